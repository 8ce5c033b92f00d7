import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { signalOnExit } from './exit-signal.js';
import { createHash } from 'node:crypto';
import { sweepCgroupRoot } from '../integration/container/harness.js';

/** The agent's command, as operators run it. */
export const DEA_BIN = new URL('../../bin/dea', import.meta.url).pathname;

/**
 * The environment for running bin/dea in a test. DEA_RUN_SOURCES makes bin/dea run the
 * TypeScript sources even when dist/ looks up to date: a test must run exactly the code
 * under test, never a build that merely has a fresh stamp.
 */
export function deaEnv(opts: { compiled?: boolean } = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (opts.compiled === true) delete env.DEA_RUN_SOURCES;
  else env.DEA_RUN_SOURCES = '1';
  return env;
}

/** How long a stop may take before the agent is killed (it stops every instance first). */
const STOP_DEADLINE_MS = 30_000;


export interface AgentLogLine {
  event?: string;
  level?: string;
  msg?: string;
  [key: string]: unknown;
}

export interface AgentHandle {
  /** The agent id (`<index>-<hex>`), from its `agent.ready` line. */
  readonly id: string;
  readonly baseDir: string;
  readonly configPath: string;
  readonly child: ChildProcess;
  logs(): AgentLogLine[];
  waitForLog(pred: (l: AgentLogLine) => boolean, timeoutMs?: number): Promise<AgentLogLine>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** The process exit, whenever it comes. */
  readonly exited: Promise<number | null>;
  /**
   * Leaves nothing behind, whatever state the agent is in: TERM (KILL after a deadline),
   * then, when startAgent made the base_dir, unmounts what is left mounted in it (an
   * agent killed with SIGKILL cannot) and removes it. Idempotent.
   */
  dispose(): Promise<void>;
}

export interface AgentOptions {
  natsUrl: string;
  /** Extra or overriding config keys (snake_case, as in YAML). */
  config?: Record<string, unknown>;
  /** The caller's directory, which the caller removes; default: a fresh one dispose() removes. */
  baseDir?: string;
  /**
   * Let bin/dea pick the compiled build when it looks up to date (benchmarks measure what
   * operators run). Tests never set it: they must run the sources.
   */
  compiled?: boolean;
  /** Extra environment for the agent (e.g. NOTIFY_SOCKET, as systemd sets it). */
  env?: Record<string, string>;
  /**
   * The log line after which startAgent returns (default `agent.ready`); an earlier one
   * lets a test act on an agent still starting. The handle's id is then '' unless the
   * line carries it.
   */
  startedWhen?: (l: AgentLogLine) => boolean;
}

/**
 * The container backend's cgroup root of this agent: the test's own, else one named
 * after its base_dir, so agents of tests running side by side never share a root (an
 * agent sweeps what it finds under its root that its snapshot does not explain) and a
 * restarted agent on the same base_dir finds its instances' groups again.
 */
function backendWithOwnRoot(backend: unknown, baseDir: string): Record<string, unknown> {
  const b = (backend ?? {}) as { container?: Record<string, unknown> };
  const root = b.container?.cgroup_root ?? `dea-t-${createHash('sha1').update(baseDir).digest('hex').slice(0, 10)}`;
  return { ...b, container: { ...b.container, cgroup_root: root } };
}

/** Writes a config for a loopback agent and runs `bin/dea --config` as a real process. */
export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
  const ownsBaseDir = opts.baseDir === undefined;
  const baseDir = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'dea-it-'));
  const config = {
    base_dir: baseDir,
    local_ip: '127.0.0.1',
    nats_servers: [opts.natsUrl],
    logging: { level: 'debug' },
    status: { host: '127.0.0.1', port: 0, user: 'u', password: 'p' },
    intervals: { heartbeat: 10, advertise: 5, router_register_in_seconds: 20 },
    resources: { memory_mb: 4096, disk_mb: 16384 },
    stacks: [{ name: 'cflinuxfs4', package_path: '/' }],
    default_health_check_timeout: 10,
    instance: { stop_grace_secs: 2 },
    ...opts.config,
    backend: backendWithOwnRoot(opts.config?.backend, baseDir),
  };
  const cgroupRoot = (config.backend as { container: { cgroup_root: string } }).container.cgroup_root;
  const configPath = join(baseDir, 'dea.yml');
  writeFileSync(configPath, yaml.dump(config));
  const child = spawn(DEA_BIN, ['--config', configPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...deaEnv({ compiled: opts.compiled === true }), ...opts.env },
  });
  // TERM, not KILL: an agent left behind still stops its instances and unmounts their views.
  signalOnExit(child, 'SIGTERM');
  const lines: AgentLogLine[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  const echo = process.env.DEA_TEST_LOGS === '1';
  child.stdout?.on('data', (chunk: Buffer) => {
    if (echo) process.stderr.write(chunk);
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as AgentLogLine);
      } catch {
        lines.push({ msg: line });
      }
      for (const w of waiters) w();
    }
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const waitForLog = (pred: (l: AgentLogLine) => boolean, timeoutMs = 15_000) =>
    new Promise<AgentLogLine>((resolve, reject) => {
      const check = () => {
        const hit = lines.find(pred);
        if (hit) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`agent log line not seen in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (alive()) child.kill(signal);
    return exited;
  };
  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> =>
    (disposing ??= (async () => {
      if (alive()) {
        const killer = setTimeout(() => child.kill('SIGKILL'), STOP_DEADLINE_MS);
        await stop();
        clearTimeout(killer);
      }
      if (ownsBaseDir) {
        unmountUnder(baseDir);
        await rm(baseDir, { recursive: true, force: true });
        // What a killed agent left in its cgroups (a clean stop removes them itself).
        await sweepCgroupRoot(cgroupRoot);
      }
    })());

  let started: AgentLogLine;
  try {
    // `agent.ready`, not `agent.started`: only then has the server its subscriptions, so a
    // start sent at once is not lost.
    started = await Promise.race([
      waitForLog(opts.startedWhen ?? ((l) => l.event === 'agent.ready'), 20_000),
      exited.then((code) => {
        throw new Error(`agent exited with ${code} before starting: ${stderr.slice(-2000)}`);
      }),
    ]);
  } catch (err) {
    // Nobody gets a handle to clean up after this one: do it here.
    if (alive()) child.kill('SIGKILL');
    await exited;
    await dispose();
    throw err;
  }
  return {
    id: typeof started.id === 'string' ? started.id : '',
    baseDir,
    configPath,
    child,
    logs: () => [...lines],
    waitForLog,
    exited,
    stop,
    dispose,
  };
}

/**
 * Lazily unmounts every mount point below `dir`, deepest first: the overlay views of
 * instances an agent left behind when it was killed. Removing the tree through a live
 * mount would fail (EBUSY) or write whiteouts into its upper layer.
 */
export function unmountUnder(dir: string): void {
  if (!existsSync('/proc/self/mountinfo')) return;
  const prefix = `${dir.replace(/\/+$/, '')}/`;
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes space, tab, newline and backslash as \ooo
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p]);
}

/** A start message as cloud_controller_ng sends it (protocol §5.1), for `dea.<id>.start`. */
export function startMessage(over: Record<string, unknown> & { executableUri: string; sha1: string | null }): Record<string, unknown> {
  const app = String(over.droplet ?? 'app-1');
  return {
    droplet: app,
    name: 'web',
    stack: 'cflinuxfs4',
    uris: [`${app}.example.com`],
    prod: false,
    executableFile: 'deprecated',
    version: 'v1',
    services: [],
    limits: { mem: 128, disk: 256, fds: 1024 },
    env: ['FOO=bar'],
    cc_partition: 'default',
    console: false,
    debug: null,
    start_command: null,
    health_check_timeout: null,
    vcap_application: {},
    index: 0,
    egress_network_rules: [],
    ...over,
  };
}

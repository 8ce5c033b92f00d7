import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';

const BIN = new URL('../../bin/dea', import.meta.url).pathname;

export interface AgentLogLine {
  event?: string;
  level?: string;
  msg?: string;
  [key: string]: unknown;
}

export interface AgentHandle {
  /** The agent id (`<index>-<hex>`), from its `agent.started` line. */
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
}

export interface AgentOptions {
  natsUrl: string;
  /** Extra or overriding config keys (snake_case, as in YAML). */
  config?: Record<string, unknown>;
  baseDir?: string;
}

/** Writes a config for a loopback agent and runs `bin/dea --config` as a real process. */
export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
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
  };
  const configPath = join(baseDir, 'dea.yml');
  writeFileSync(configPath, yaml.dump(config));
  const child = spawn(BIN, ['--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const waitForLog = (pred: (l: AgentLogLine) => boolean, timeoutMs = 10_000) =>
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
  const started = await Promise.race([
    waitForLog((l) => l.event === 'agent.started', 20_000),
    exited.then((code) => {
      throw new Error(`agent exited with ${code} before starting: ${stderr.slice(-2000)}`);
    }),
  ]);
  return {
    id: String(started.id),
    baseDir,
    configPath,
    child,
    logs: () => [...lines],
    waitForLog,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
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

/**
 * The backend contract and the process backend's own promises, with real bash apps:
 * limits, user, process group, literal environment and both start modes. The contract
 * runs twice: C supervisors spawned by the spawn helper (as the agent does) and
 * supervise.sh forked by this process (what the backend does where neither is built).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProcessBackend } from '../../src/backends/process/index.js';
import type { BackendHandle, InstanceProcess, LaunchSpec } from '../../src/backends/types.js';
import { systemClock } from '../../src/platform/clock.js';
import { silentLogger } from '../../src/platform/logger.js';
import { SpawnHelper, spawnHelperPath } from '../../src/platform/spawner/helper.js';
import { isRoot, requireHost } from '../integration/preconditions.js';
import { eventually } from '../support/eventually.js';
import { backendContract, type ContractApp } from './backend.contract.js';

const REPO = join(import.meta.dirname, '..', '..');
const LIBEXEC = join(REPO, 'libexec');
const NOBODY = { uid: 65534, gid: 65534 };

/** A temp root every user can traverse (apps may run as nobody), with the backend's run dir. */
async function makeRoot(): Promise<{ root: string; runDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'dea-process-backend-'));
  await chmod(root, 0o755);
  const runDir = join(root, 'run');
  await mkdir(runDir, { mode: 0o700 });
  await mkdir(join(root, 'instances'), { mode: 0o755 });
  return { root, runDir };
}

type Via = 'spawn helper' | 'fork';
const helpers: SpawnHelper[] = [];
afterAll(async () => {
  for (const h of helpers.splice(0)) await h.close();
});

/** A process backend whose supervisors come from a spawn helper of its own, or from forks of this process. */
function backendOn(runDir: string, via: Via = 'spawn helper'): ProcessBackend {
  // As the agent runs: the helper and the C supervisor; and the fallback: forks and supervise.sh.
  const base = { runDir, libexecDir: LIBEXEC, clock: systemClock, logger: silentLogger(), supervisor: via === 'fork' ? ('shell' as const) : ('c' as const) };
  if (via === 'fork') return new ProcessBackend(base);
  const bin = spawnHelperPath(LIBEXEC);
  for (const built of [bin, join(LIBEXEC, 'spawner', 'dea-supervise')]) if (!existsSync(built)) throw new Error(`${built} is not built: run scripts/setup.sh`);
  const helper = new SpawnHelper(bin, silentLogger());
  helpers.push(helper);
  return new ProcessBackend({ ...base, spawner: helper });
}

interface InstanceOpts {
  /** The v1 `startup` script's body (after `#!/bin/bash`). */
  readonly startup?: string;
  /** More files, relative to the instance dir. */
  readonly files?: Readonly<Record<string, string>>;
  readonly over?: Partial<LaunchSpec>;
}

/** An unpacked instance directory with logs/, and a launch spec for it. */
async function makeInstance(root: string, opts: InstanceOpts): Promise<LaunchSpec> {
  const instanceId = randomUUID().replaceAll('-', '');
  const dir = join(root, 'instances', instanceId);
  await mkdir(join(dir, 'logs'), { recursive: true, mode: 0o755 });
  if (opts.startup !== undefined) {
    await writeFile(join(dir, 'startup'), `#!/bin/bash\n${opts.startup}\n`, { mode: 0o755 });
  }
  for (const [rel, text] of Object.entries(opts.files ?? {})) {
    await mkdir(join(dir, rel, '..'), { recursive: true, mode: 0o755 });
    await writeFile(join(dir, rel), text, { mode: 0o644 });
  }
  const user = opts.over?.user ?? null;
  if (user) await chownTree(dir, user);
  return {
    instanceId,
    dir,
    mode: { kind: 'v1' },
    env: [['PORT', '8123']],
    limits: { memMb: 256, diskMb: 64, fds: 256, nproc: 512, cpuShares: 32 },
    user: null,
    stdoutPath: join(dir, 'logs', 'stdout.log'),
    stderrPath: join(dir, 'logs', 'stderr.log'),
    ...opts.over,
  };
}

async function chownTree(dir: string, user: { uid: number; gid: number }): Promise<void> {
  const { readdir } = await import('node:fs/promises');
  await chown(dir, user.uid, user.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, user);
    else await chown(p, user.uid, user.gid);
  }
}

// ---- the contract ------------------------------------------------------------------------

const SCRIPTS: Record<ContractApp['kind'], (app: ContractApp) => string> = {
  exits: (app) => `echo $$ > main.pid\nexit ${app.kind === 'exits' ? app.status : 1}`,
  serves: () => 'echo $$ > main.pid\ntouch ready\nexec sleep 1000',
  ignoresTerm: () => "echo $$ > main.pid\ntrap '' TERM\ntouch ready\nwhile :; do sleep 1; done",
  forks: () => 'echo $$ > main.pid\nsleep 1000 &\necho $! > child.pid\ntouch ready\nwait',
};

async function readPid(path: string): Promise<number[]> {
  try {
    return [Number((await readFile(path, 'utf8')).trim())];
  } catch {
    return [];
  }
}

/** Whether a process runs: it exists and is not a zombie waiting for its parent. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false; // gone between the two looks
  }
}

for (const via of ['spawn helper', 'fork'] as const) backendContract(
  `process (${via})`,
  async () => {
    const { root, runDir } = await makeRoot();
    const backend = backendOn(runDir, via);
    return {
      backend,
      script: (app) => makeInstance(root, { startup: SCRIPTS[app.kind](app) }),
      ready: async (spec) => {
        await eventually(() => existsSync(join(spec.dir, 'ready')), 10_000, 'app ready');
      },
      // What the app wrote: its own $$ and the $! of its child.
      appPids: async (spec) => [...(await readPid(join(spec.dir, 'main.pid'))), ...(await readPid(join(spec.dir, 'child.pid')))],
      running,
      now: () => Date.now(),
      elapse: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      settle: (p) => p,
      successor: () => backendOn(runDir, via),
      dispose: () => rm(root, { recursive: true, force: true }),
    };
  },
  // watchMs: longer than a recovered instance's poll period (250 ms).
  { graceMs: 1_000, watchMs: 600 },
);

// ---- what the process backend promises besides ---------------------------------------------

describe('ProcessBackend', () => {
  let root: string;
  let runDir: string;
  let backend: ProcessBackend;
  const procs: InstanceProcess[] = [];

  beforeAll(async () => {
    ({ root, runDir } = await makeRoot());
    backend = backendOn(runDir);
  });

  afterEach(async () => {
    for (const p of procs.splice(0)) await p.destroy();
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function run(opts: InstanceOpts): Promise<{ spec: LaunchSpec; proc: InstanceProcess }> {
    const spec = await makeInstance(root, opts);
    const proc = await backend.launch(spec);
    procs.push(proc);
    return { spec, proc };
  }

  /** Runs an app to its end; returns its exit status and stdout. */
  async function runToEnd(opts: InstanceOpts): Promise<{ spec: LaunchSpec; status: number; stdout: string }> {
    const { spec, proc } = await run(opts);
    const { exitStatus } = await proc.exited;
    return { spec, status: exitStatus, stdout: await readFile(spec.stdoutPath, 'utf8') };
  }

  it('runs a v1 droplet as ./startup -p $PORT in the instance dir, output to the log files', async () => {
    const { spec, status, stdout } = await runToEnd({ startup: 'echo "args:$*"\necho "cwd:$PWD"\necho oops >&2' });
    expect(status).toBe(0);
    expect(stdout).toBe(`args:-p 8123\ncwd:${spec.dir}\n`);
    expect(await readFile(spec.stderrPath, 'utf8')).toBe('oops\n');
  });

  it('runs the app in a process group and session of its own', async () => {
    const { spec } = await run({ startup: 'echo $$ > main.pid\ntouch ready\nexec sleep 1000' });
    await eventually(() => existsSync(join(spec.dir, 'ready')), 10_000, 'app ready');
    const [main] = await readPid(join(spec.dir, 'main.pid'));
    const app = await procStat(main ?? -1);
    const self = await procStat(process.pid);
    expect(app.pgrp).toBe(main);
    expect(app.pgrp).not.toBe(self.pgrp);
    expect(app.session).not.toBe(self.session);
  });

  it('applies the limits: ulimit -n = fds, ulimit -f = disk in KB, -u = nproc, umask 077', async () => {
    const script = [
      'echo "fds=$(ulimit -n)"',
      'echo "fsize=$(ulimit -f)"',
      'echo "nproc=$(ulimit -u)"',
      'echo "umask=$(umask)"',
      'echo made > made.txt',
      'echo "mode=$(stat -c %a made.txt)"',
    ].join('\n');
    const over = { limits: { memMb: 128, diskMb: 48, fds: 200, nproc: 300, cpuShares: 16 } };
    const { spec, status, stdout } = await runToEnd({ startup: script, over });
    expect(status).toBe(0);
    expect(stdout).toBe(`fds=200\nfsize=${48 * 1024}\nnproc=300\numask=0077\nmode=600\n`);
    expect((await stat(join(spec.dir, 'made.txt'))).mode & 0o777).toBe(0o600);
  });

  it('runs as the given user when one is set', async () => {
    requireHost({ 'root (to run the app as another user)': isRoot() });
    const { spec, status, stdout } = await runToEnd({
      startup: 'echo "$(id -u):$(id -g):$(id -G)"\necho mine > owned.txt',
      over: { user: NOBODY },
    });
    expect(status).toBe(0);
    expect(stdout).toBe('65534:65534:65534\n');
    const st = await stat(join(spec.dir, 'owned.txt'));
    expect([st.uid, st.gid]).toEqual([NOBODY.uid, NOBODY.gid]);
  });

  it("keeps the agent's user when none is set", async () => {
    const { stdout } = await runToEnd({ startup: 'id -u' });
    expect(stdout).toBe(`${process.getuid?.()}\n`);
  });

  it('passes environment values literally, byte for byte', async () => {
    const values: [string, string][] = [
      ['EVIL', '$HOME;rm -rf /'],
      ['SUBST', '$(touch pwned) `touch pwned2` ${PATH}'],
      ['QUOTES', `it's "quoted" \\ back\\slash`],
      ['LINES', 'one\ntwo\n  three *'],
      ['EMPTY', ''],
    ];
    const script = values.map(([k]) => `printf '%s' "$${k}" > ${k}.out`).join('\n');
    const { spec, status } = await runToEnd({ startup: script, over: { env: [['PORT', '8123'], ...values] } });
    expect(status).toBe(0);
    for (const [k, v] of values) expect(await readFile(join(spec.dir, `${k}.out`), 'utf8')).toBe(v);
    expect(existsSync(join(spec.dir, 'pwned'))).toBe(false);
    expect(existsSync(join(spec.dir, 'pwned2'))).toBe(false);
  });

  it('v2: sources app/.profile.d/*.sh, then runs DEA_START_COMMAND with bash -c in app/', async () => {
    const command = `printf '%s|%s|%s|%s' "$PWD" "$FROM_PROFILE" "\${IGNORED-unset}" "\${DEA_START_COMMAND-unset}" > seen.txt && exit 4`;
    const { spec, status } = await runToEnd({
      files: {
        'app/.profile.d/setup.sh': 'export FROM_PROFILE="profile:$GREETING"\n',
        'app/.profile.d/notes.txt': 'export IGNORED=1\n',
      },
      over: { mode: { kind: 'v2', startCommand: command }, env: [['GREETING', 'hello']] },
    });
    expect(status).toBe(4);
    expect(await readFile(join(spec.dir, 'app', 'seen.txt'), 'utf8')).toBe(`${spec.dir}/app|profile:hello|unset|unset`);
  });

  it('an instance outlives its agent, whose process group is killed; the next agent recovers it', async ({ onTestFailed }) => {
    const spec = await makeInstance(root, { startup: 'echo $$ > main.pid\ntouch ready\nexec sleep 1000' });
    const agent = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'agent-that-launches.ts'), runDir, LIBEXEC, JSON.stringify(spec)],
      { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    // Should the test fail before the recovered instance is stopped, nothing it started
    // may outlive it: the agent's group, the detached supervisor and the app's group.
    let supervisor: number | null = null;
    onTestFailed(async () => {
      if (agent.exitCode === null && agent.signalCode === null) killQuietly(-(agent.pid as number));
      const [app] = await readPid(join(spec.dir, 'main.pid'));
      if (app !== undefined) killQuietly(-app);
      if (supervisor !== null) killQuietly(supervisor);
    });
    const handle = await firstLine(agent.stdout);
    supervisor = Number((JSON.parse(handle) as BackendHandle).supervisorPid) || null;
    await eventually(() => existsSync(join(spec.dir, 'ready')), 10_000, 'app ready');
    const gone = new Promise((resolve) => agent.once('exit', resolve));
    process.kill(-(agent.pid as number), 'SIGKILL');
    await gone;

    const [main] = await readPid(join(spec.dir, 'main.pid'));
    expect(main).toBeDefined();
    expect(() => process.kill(main as number, 0)).not.toThrow();
    const again = await backendOn(runDir).recover(JSON.parse(handle) as BackendHandle);
    expect(again).not.toBeNull();
    if (!again) return;
    procs.push(again);
    expect(await again.pids()).toContain(main);
    expect((await again.stop(10_000)).exitStatus).toBe(143);
  });
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function procStat(pid: number): Promise<{ pgrp: number; session: number }> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) ": state ppid pgrp session ...
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(rest[2]), session: Number(rest[3]) };
}

function firstLine(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!stream) return reject(new Error('no stdout'));
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    stream.once('end', () => reject(new Error(`agent ended before printing a handle: ${buf}`)));
  });
}

/**
 * A container backend on this host's real cgroups, for the container integration tests:
 * a temp base dir, a cgroup root of its own (`dea-test-<hex>`), and a clean-up that
 * kills what is left in it, removes every group it made and the temp dir. Needs root
 * and writable cgroups: a failing precondition fails the test, it never passes quietly.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContainerBackend, type CgroupHost, type ContainerBackend } from '../../../src/backends/container/index.js';
import type { LaunchSpec } from '../../../src/backends/types.js';
import { systemClock } from '../../../src/platform/clock.js';
import { silentLogger } from '../../../src/platform/logger.js';

const REPO = join(import.meta.dirname, '..', '..', '..');

export interface Harness {
  readonly backend: ContainerBackend;
  /** Another backend over the same state, as the next agent would build it. */
  readonly successor: ContainerBackend;
  readonly host: CgroupHost;
  readonly base: string;
  readonly cgroupRoot: string;
  /** An instance directory (v1 layout: startup, app/, logs/, tmp/) and its launch spec. */
  instance(startup: string, over?: Partial<LaunchSpec>): Promise<LaunchSpec>;
  /** The instance's group directory in a v1 controller's hierarchy. */
  groupDir(controller: string, instanceId: string): string;
  /** Groups still under our cgroup root, in any hierarchy. */
  leftoverGroups(): string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly lxcfsDir?: string;
  /** Where the temp base dir goes (default: the OS temp dir). */
  readonly parent?: string;
  readonly uidPoolSize?: number;
}

export async function containerHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const base = await mkdtemp(join(opts.parent ?? tmpdir(), 'dea-container-'));
  await chmod(base, 0o755);
  const cgroupRoot = `dea-test-${randomBytes(4).toString('hex')}`;
  const setup = {
    baseDir: base,
    runDir: join(base, 'run'),
    uidDir: join(base, 'uids'),
    libexecDir: join(REPO, 'libexec'),
    cgroupRoot,
    lxcfsDir: opts.lxcfsDir ?? join(base, 'no-lxcfs'),
    defaultRootfs: '/',
    appGroup: null,
    // A range of its own, so test files running side by side never share a uid.
    uidPool: { start: 100_000 + randomBytes(2).readUInt16BE() * 16, size: opts.uidPoolSize ?? 16 },
    clock: systemClock,
    logger: silentLogger(),
  };
  const choice = await createContainerBackend(setup);
  // What an agent started after this one would build over the same base_dir and groups.
  const next = await createContainerBackend(setup);
  if (!choice.ok || !next.ok) {
    await rm(base, { recursive: true, force: true });
    throw new Error(`this host cannot run the container backend: ${choice.ok ? 'second setup failed' : choice.why}`);
  }
  const { host } = choice;
  const hierarchies = () => [...new Set(host.v1.values()), ...(host.unified ? [host.unified] : [])];
  return {
    backend: choice.backend,
    successor: next.backend,
    host,
    base,
    cgroupRoot,
    instance: (startup, over) => makeInstance(base, startup, over),
    groupDir: (controller, id) => join(host.v1.get(controller as never) ?? host.unified ?? '/nonexistent', cgroupRoot, id),
    leftoverGroups: () => hierarchies().flatMap((h) => subdirs(join(h, cgroupRoot)).map((d) => join(h, cgroupRoot, d))),
    async close() {
      for (const h of hierarchies()) await sweep(join(h, cgroupRoot));
      await rm(base, { recursive: true, force: true });
    },
  };
}

async function makeInstance(base: string, startup: string, over: Partial<LaunchSpec> = {}): Promise<LaunchSpec> {
  const instanceId = randomBytes(16).toString('hex');
  const dir = join(base, 'instances', instanceId);
  for (const d of ['app', 'logs', 'tmp']) await mkdir(join(dir, d), { recursive: true, mode: 0o755 });
  await writeFile(join(dir, 'startup'), `#!/bin/bash\n${startup}\n`, { mode: 0o755 });
  return {
    instanceId,
    dir,
    mode: { kind: 'v1' },
    env: [['PORT', '8123'], ['HOME', '/home/vcap/app'], ['TMPDIR', '/home/vcap/tmp']],
    limits: { memMb: 128, diskMb: 64, fds: 256, nproc: 64, cpuShares: 16 },
    user: null,
    stdoutPath: join(dir, 'logs', 'stdout.log'),
    stderrPath: join(dir, 'logs', 'stderr.log'),
    ...over,
  };
}

export function readLog(spec: LaunchSpec, which: 'stdout' | 'stderr' = 'stdout'): string {
  try {
    return readFileSync(which === 'stdout' ? spec.stdoutPath : spec.stderrPath, 'utf8');
  } catch {
    return '';
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * Removes cgroup root `name` from every hierarchy of this host (an agent's
 * `backend.container.cgroup_root`), with whatever a failed test left in it, and the
 * agent's own group beside it (`<name>-agent`).
 */
export async function sweepCgroupRoot(name: string): Promise<void> {
  const { detectCgroupHost } = await import('../../../src/backends/container/index.js');
  const host = detectCgroupHost();
  for (const h of [...new Set(host.v1.values()), ...(host.unified ? [host.unified] : [])]) {
    await sweep(join(h, name));
    await sweep(join(h, `${name}-agent`));
  }
}

/**
 * Kills what a failed test left in our groups (only processes in them), then removes
 * them. An agent may be removing the same groups meanwhile: one already gone is fine.
 */
async function sweep(root: string): Promise<void> {
  if (!existsSync(root)) return;
  // The root itself last: an agent's own group (`<root>-agent`) holds processes directly.
  for (const dir of [...subdirs(root).map((name) => join(root, name)), root]) {
    try {
      // A frozen process takes no SIGKILL until thawed (v1 freezer).
      if (existsSync(join(dir, 'freezer.state'))) writeFileSync(join(dir, 'freezer.state'), 'THAWED');
      for (let i = 0; i < 100; i++) {
        const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
        if (pids.length === 0) break;
        for (const pid of pids) killQuietly(pid);
        await new Promise((r) => setTimeout(r, 20));
      }
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Retries an assertion until it passes, or rethrows its last failure after `timeoutMs`. */
export async function waitFor(assertion: () => unknown | Promise<unknown>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

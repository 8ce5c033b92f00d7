import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, type Clock } from '../../platform/clock.js';
import type { CgroupDirs } from '../../monitor/cgroup-reader.js';
import { parseOomKills } from '../../monitor/proc-parse.js';
import { closeQuietly, openOrNull, ReadBuffer } from '../../monitor/pseudo-file.js';
import { v1MemoryRewrites, v1Writes, v2MemoryRewrites, v2Writes, type CgroupLimits, type CgroupWrite, type V1Controller } from './cgroup-limits.js';
import type { CgroupHost } from './cgroup-host.js';

const NAME = /^[0-9a-f]{32}$/;
const POLL_MS = 20;
const RMDIR_TRIES = 50;

/** One instance's group in every hierarchy the backend uses: made, limited, killed, removed. */
export class InstanceCgroups {
  private constructor(
    private readonly host: CgroupHost,
    /** hierarchy mount point → the instance's directory in it */
    private readonly dirs: ReadonlyMap<string, string>,
    private readonly unifiedDir: string | null,
    private readonly clock: Clock,
  ) {}

  /**
   * The instance's groups under `<mount>/<root>/<name>` (absolute: never under the
   * agent's own group, which a service manager may kill as a whole). Any failure
   * removes what was made.
   */
  static async create(host: CgroupHost, root: string, name: string, limits: CgroupLimits, clock: Clock): Promise<InstanceCgroups> {
    const cg = InstanceCgroups.locate(host, root, name, clock);
    try {
      for (const [controller, mount] of host.v1) await cg.make(cg.dirs.get(mount)!, v1Writes(controller, limits, host.hasMemsw));
      if (cg.unifiedDir !== null) {
        mkdirSync(cg.unifiedDir, { recursive: true });
        // memory.swap.max exists only where the kernel accounts swap.
        const hasSwapMax = existsSync(join(cg.unifiedDir, 'memory.swap.max'));
        await cg.make(cg.unifiedDir, v2Writes(limits, host.v2Controllers, hasSwapMax));
      }
      return cg;
    } catch (err) {
      await cg.remove().catch(() => undefined);
      throw err;
    }
  }

  /** The groups of an instance made earlier (by this agent or one before it). */
  static locate(host: CgroupHost, root: string, name: string, clock: Clock): InstanceCgroups {
    if (!NAME.test(name)) throw new Error('not an instance id');
    const dirs = new Map<string, string>();
    for (const mount of host.v1.values()) dirs.set(mount, join(mount, root, name));
    const unifiedDir = host.unified === null ? null : join(host.unified, root, name);
    return new InstanceCgroups(host, dirs, unifiedDir, clock);
  }

  /**
   * Moves the group's memory limits to `limits` (an adopted instance under a changed
   * memory policy). Lowering a limit below what the group uses fails (EBUSY): the caller
   * decides what that means.
   */
  rewriteMemory(limits: CgroupLimits): void {
    const memory = this.host.v1.get('memory');
    if (memory !== undefined) {
      for (const [file, value] of v1MemoryRewrites(limits, this.host.hasMemsw)) writeFileSync(join(this.dirs.get(memory)!, file), value);
    } else if (this.unifiedDir !== null && this.host.v2Controllers.has('memory')) {
      for (const [file, value] of v2MemoryRewrites(limits)) writeFileSync(join(this.unifiedDir, file), value);
    }
  }

  /** The cgroup.procs files the container's init writes itself into, first thing. */
  procsFiles(): string[] {
    const dirs = [...this.dirs.values()];
    if (this.unifiedDir !== null) dirs.push(this.unifiedDir);
    return dirs.map((d) => join(d, 'cgroup.procs'));
  }

  /** Where the monitor reads CPU and memory. */
  readerDirs(): CgroupDirs {
    const v1 = (c: V1Controller) => {
      const mount = this.host.v1.get(c);
      return mount === undefined ? undefined : this.dirs.get(mount);
    };
    const unified = this.unifiedDir ?? undefined;
    return { cpuacct: v1('cpuacct'), memory: v1('memory'), unified };
  }

  /** Every process in the instance, as the host sees them. */
  pids(): number[] {
    return parsePids(readOrNull(join(this.anyDir(), 'cgroup.procs')) ?? '');
  }

  /**
   * A reader of the process list through a descriptor kept open (the monitor's tick
   * lists processes of every instance); close() releases it.
   */
  pidsReader(): { read(): number[]; close(): void } {
    const fd = openOrNull(join(this.anyDir(), 'cgroup.procs'));
    const buf = new ReadBuffer(1024);
    return {
      read: () => {
        if (fd === null) return [];
        try {
          return parsePids(buf.text(fd));
        } catch {
          return [];
        }
      },
      close: () => {
        if (fd !== null) closeQuietly(fd);
      },
    };
  }

  /** Kills the kernel's OOM killer made in the group (v1 oom_control, v2 memory.events). */
  oomKills(): number {
    const memory = this.host.v1.get('memory');
    const file = memory !== undefined ? join(this.dirs.get(memory)!, 'memory.oom_control') : this.unifiedDir !== null && this.host.v2Controllers.has('memory') ? join(this.unifiedDir, 'memory.events') : null;
    const text = file === null ? null : readOrNull(file);
    return text === null ? 0 : (parseOomKills(text) ?? 0);
  }

  /** A signal to every process of the instance (the init ignores all but KILL). */
  signalAll(signal: NodeJS.Signals): void {
    for (const pid of this.pids()) signalQuietly(pid, signal);
  }

  /**
   * SIGKILL to every process at once, with no fork racing the sweep: cgroup.kill where a
   * unified group exists (kernel ≥ 5.14), else freeze, kill, thaw on the v1 freezer.
   */
  async killAll(): Promise<void> {
    if (this.unifiedDir !== null && existsSync(join(this.unifiedDir, 'cgroup.kill'))) {
      writeQuietly(join(this.unifiedDir, 'cgroup.kill'), '1');
    } else {
      await this.freezeAndKill();
    }
    await this.untilEmpty();
  }

  /** Removes the groups, children of none; EBUSY while the last processes die is retried. */
  async remove(): Promise<void> {
    const dirs = [...this.dirs.values()];
    if (this.unifiedDir !== null) dirs.push(this.unifiedDir);
    for (const dir of dirs) await this.rmdirRetrying(dir);
  }

  /**
   * Synchronous on purpose: a cgroupfs mkdir or write is a few µs in the kernel, while
   * each async call is a thread-pool round trip; an instance's ~20 of them cost ~2 ms
   * async against ~0.3 ms like this, on every start.
   */
  private async make(dir: string, writes: readonly CgroupWrite[]): Promise<void> {
    mkdirSync(dir, { recursive: true });
    for (const [file, value] of writes) writeFileSync(join(dir, file), value);
  }

  private async freezeAndKill(): Promise<void> {
    const freezer = this.host.v1.get('freezer');
    const state = freezer === undefined ? null : join(this.dirs.get(freezer)!, 'freezer.state');
    if (state !== null) {
      writeQuietly(state, 'FROZEN');
      for (let i = 0; i < 100 && (readOrNull(state) ?? 'FROZEN').trim() === 'FREEZING'; i++) await sleep(this.clock, 5);
    }
    this.signalAll('SIGKILL');
    if (state !== null) writeQuietly(state, 'THAWED');
  }

  private async untilEmpty(): Promise<void> {
    for (let i = 0; i < 500 && this.pids().length > 0; i++) {
      // Without a freezer a process may fork between two sweeps: sweep again.
      if (i % 10 === 9) this.signalAll('SIGKILL');
      await sleep(this.clock, POLL_MS);
    }
  }

  private async rmdirRetrying(dir: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await rmdir(dir);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY' || i >= RMDIR_TRIES) throw err;
        await sleep(this.clock, POLL_MS);
      }
    }
  }

  private anyDir(): string {
    const pids = this.host.v1.get('pids') ?? this.host.v1.get('freezer');
    if (pids !== undefined) return this.dirs.get(pids)!;
    if (this.unifiedDir !== null) return this.unifiedDir;
    return [...this.dirs.values()][0]!;
  }
}

/**
 * Makes `<mount>/<root>` in every hierarchy and, on v2, hands the controllers down to
 * it (cgroup.subtree_control of the root and of ours), once at backend start.
 */
export async function prepareCgroupRoot(host: CgroupHost, root: string): Promise<void> {
  for (const mount of new Set(host.v1.values())) await mkdir(join(mount, root), { recursive: true });
  if (host.unified === null) return;
  await mkdir(join(host.unified, root), { recursive: true });
  const enable = [...host.v2Controllers].filter((c) => ['memory', 'cpu', 'pids'].includes(c)).map((c) => `+${c}`).join(' ');
  if (enable === '') return;
  await writeFile(join(host.unified, 'cgroup.subtree_control'), enable);
  await writeFile(join(host.unified, root, 'cgroup.subtree_control'), enable);
}

/** Removes `<mount>/<root>` from every hierarchy where it is empty; leaves it where it is not. */
export async function removeCgroupRoot(host: CgroupHost, root: string): Promise<void> {
  const mounts = [...new Set(host.v1.values()), ...(host.unified === null ? [] : [host.unified])];
  for (const mount of mounts) {
    await rmdir(join(mount, root)).catch(() => undefined); // EBUSY/ENOTEMPTY: instances remain
  }
}

function parsePids(text: string): number[] {
  return text.split('\n').filter(Boolean).map(Number);
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

function writeQuietly(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch {
    // the group is gone: nothing left to stop
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

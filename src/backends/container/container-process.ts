import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, type Clock } from '../../platform/clock.js';
import { CgroupReader } from '../../monitor/cgroup-reader.js';
import { ExitDescriptions } from '../../errors.js';
import { readExitRecord } from '../exit-record.js';
import { isSameProcess } from '../process/proc-tree.js';
import type { BackendHandle, ExitInfo, InstanceProcess, UsageReading } from '../types.js';
import type { InstanceCgroups } from './cgroups.js';
import { linkCounters } from '../../network/counters.js';

const POLL_MS = 250;
/**
 * memory.stat (inactive file cache, cache, rss) and the OOM counter are read on every
 * this many monitor readings, the process list on every RELIST: the cheap counters (CPU,
 * memory usage) on every one. The kernel enforces the memory limit itself, so a working
 * set a few seconds old costs nothing.
 */
const STAT_EVERY = 10;
const RELIST = 8;
/** 128 + SIGKILL: how an OOM-killed app's exit reads. */
const KILLED = 137;

export interface ContainerParts {
  readonly handle: BackendHandle;
  readonly runDir: string;
  readonly cgroups: InstanceCgroups;
  readonly clock: Clock;
  /** The host end of its veth, whose counters are its network traffic; null: no network of its own. */
  readonly hostIf?: string | null;
  /** Settles once the network's set-up is over (its files are written in the run dir until then). */
  readonly networkSettled?: Promise<void>;
  /** Why the backend ended the instance itself (its network could not be set up), if it did. */
  readonly failure?: () => string | null;
  /** Gives back what the backend holds for the instance (its uid, its network). */
  readonly release: () => Promise<void>;
}

/** One container instance: exit from its supervisor's record, usage from its cgroups. */
export class ContainerProcess implements InstanceProcess {
  readonly handle: BackendHandle;
  readonly exited: Promise<ExitInfo>;
  private readonly reader: CgroupReader;
  private destroyed: Promise<void> | null = null;
  private readings = 0;
  private lastPids: number[] = [];
  private readonly procs: { read(): number[]; close(): void };

  private constructor(private readonly parts: ContainerParts, supervisorGone: Promise<void>) {
    this.handle = parts.handle;
    this.reader = new CgroupReader(parts.cgroups.readerDirs(), { memoryStatEvery: STAT_EVERY });
    this.procs = parts.cgroups.pidsReader();
    this.exited = supervisorGone.then(() => this.exitInfo());
  }

  /** A container this agent started: its supervisor is our child. */
  static ofChild(parts: ContainerParts, child: ChildProcess): ContainerProcess {
    const gone = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    });
    return new ContainerProcess(parts, gone);
  }

  /** A container an earlier agent started: its supervisor is watched by polling. */
  static adopt(parts: ContainerParts, supervisorPid: number, supervisorStart: number | null): ContainerProcess | null {
    if (!existsSync(parts.runDir)) return null;
    const gone = (async () => {
      while (isSameProcess(supervisorPid, supervisorStart) && !existsSync(join(parts.runDir, 'exit_status'))) {
        await sleep(parts.clock, POLL_MS);
      }
    })();
    return new ContainerProcess(parts, gone);
  }

  exitedAlready(): ExitInfo | null {
    const h = this.parts.handle;
    const start = h.supervisorStart === null ? null : Number(h.supervisorStart);
    const recorded = existsSync(join(this.parts.runDir, 'exit_status'));
    return recorded || !isSameProcess(Number(h.supervisorPid), start) ? this.exitInfo() : null;
  }

  /** The cgroup's own counters, read through kept descriptors: no /proc walk. */
  usage(): UsageReading | null {
    const u = this.reader.read();
    if (u === null || u.cpuNs === null || u.memBytes === null) return null;
    if (this.readings++ % RELIST === 0) this.lastPids = this.procs.read();
    const pids = this.lastPids;
    const stat = this.reader.memoryStat();
    const container = { cacheBytes: stat.cacheBytes ?? 0, rssBytes: stat.rssBytes ?? 0, cpuNs: u.cpuNs, pids: pids.length, oomKills: u.oomKills ?? 0, ...this.traffic() };
    return { cpuSeconds: u.cpuNs / 1e9, memBytes: u.memBytes, pids, container };
  }

  /** What the host end sent is what the instance received, and the other way round. */
  private traffic(): { netRxBytes?: number; netTxBytes?: number } {
    const hostIf = this.parts.hostIf;
    if (!hostIf) return {};
    const c = linkCounters(hostIf);
    return c === null ? {} : { netRxBytes: c.txBytes, netTxBytes: c.rxBytes };
  }

  async pids(): Promise<number[]> {
    return this.parts.cgroups.pids();
  }

  /** TERM to every process of the instance; after `graceMs`, SIGKILL to all at once. */
  async stop(graceMs: number): Promise<ExitInfo> {
    this.parts.cgroups.signalAll('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(this.parts.clock, graceMs).then(() => false)]);
    if (!done) await this.parts.cgroups.killAll();
    const info = await this.exited;
    // The init's exit ends its namespace; this sweeps anything still on its way out.
    await this.parts.cgroups.killAll();
    return info;
  }

  /** Kills what is left, then removes the cgroups, the records and the uid (idempotent). */
  destroy(): Promise<void> {
    this.destroyed ??= this.teardown();
    return this.destroyed;
  }

  private async teardown(): Promise<void> {
    await this.parts.cgroups.killAll();
    await this.exited;
    await this.parts.networkSettled;
    this.reader.close();
    this.procs.close();
    await this.parts.cgroups.remove();
    await rm(this.parts.runDir, { recursive: true, force: true });
    await this.parts.release();
  }

  /** The supervisor's record, with an OOM kill told apart from any other SIGKILL. */
  private exitInfo(): ExitInfo {
    const info = readExitRecord(this.parts.runDir);
    const failure = this.parts.failure?.() ?? null;
    if (failure !== null) return { ...info, event: failure };
    const oom = info.exitStatus === KILLED && this.parts.cgroups.oomKills() > 0;
    return oom ? { ...info, event: ExitDescriptions.outOfMemory } : info;
  }
}

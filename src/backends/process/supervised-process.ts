import { existsSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, type Clock } from '../../platform/clock.js';
import { sampleKnown, sampleTree } from '../../monitor/tree.js';
import type { ProcReader } from '../../monitor/proc-reader.js';
import type { BackendHandle, ExitInfo, InstanceProcess, UsageReading } from '../types.js';
import { groupMemberStarts, isSameProcess, processTree, ticksSinceBoot } from './proc-tree.js';
import { readExitRecord as readExit } from '../exit-record.js';
import type { ChildExit } from '../../platform/spawner/direct.js';

const POLL_MS = 250;
/** A process forked meanwhile is counted within this many monitor ticks. */
const RELIST_TREE_EVERY = 4;

/** Waits, by polling, until the supervisor is gone or has recorded the app's exit. */
async function pollExit(handle: BackendHandle, clock: Clock): Promise<ExitInfo> {
  const runDir = String(handle.runDir);
  const pid = Number(handle.supervisorPid);
  const start = handle.supervisorStart === null ? null : Number(handle.supervisorStart);
  while (isSameProcess(pid, start) && !existsSync(join(runDir, 'exit_status'))) await sleep(clock, POLL_MS);
  return readExit(runDir);
}

/** One instance under its supervising shell (see libexec/supervise.sh). */
export class SupervisedProcess implements InstanceProcess {
  /** The processes sampled last tick, whose /proc descriptors the reader holds. */
  private sampled: readonly number[] = [];
  private app: number | null = null;
  private readings = 0;

  private constructor(
    readonly handle: BackendHandle,
    readonly exited: Promise<ExitInfo>,
    private readonly clock: Clock,
    private readonly reader: ProcReader,
  ) {}

  /**
   * An instance this agent launched: its parent (the agent or the spawn helper) reports
   * the supervisor's exit; if that parent can no longer tell (`exit` gives null: the
   * helper died), the supervisor is polled as an adopted one is.
   */
  static ofSpawn(handle: BackendHandle, exit: Promise<ChildExit | null>, clock: Clock, reader: ProcReader): SupervisedProcess {
    const runDir = String(handle.runDir);
    const exited = exit.then((seen) => (seen === null ? pollExit(handle, clock) : readExit(runDir)));
    return new SupervisedProcess(handle, exited, clock, reader);
  }

  /** An instance an earlier agent launched: watch its supervisor by polling. */
  static adopt(handle: BackendHandle, clock: Clock, reader: ProcReader): SupervisedProcess | null {
    if (!existsSync(String(handle.runDir))) return null;
    return new SupervisedProcess(handle, pollExit(handle, clock), clock, reader);
  }

  exitedAlready(): ExitInfo | null {
    const runDir = String(this.handle.runDir);
    const start = this.handle.supervisorStart === null ? null : Number(this.handle.supervisorStart);
    if (existsSync(join(runDir, 'exit_status'))) return readExit(runDir);
    return isSameProcess(Number(this.handle.supervisorPid), start) ? null : readExit(runDir);
  }

  /** CPU and memory of the app's process tree, from /proc through kept descriptors. */
  usage(): UsageReading | null {
    this.app ??= this.appPid();
    // Re-list the tree's children only every few readings: processes rarely fork, and
    // skipping the children files halves what a monitor tick reads from /proc.
    const relist = this.readings++ % RELIST_TREE_EVERY === 0 || this.sampled.length === 0;
    const tree = this.app === null ? null : relist ? sampleTree(this.app, this.reader) : sampleKnown(this.sampled, this.reader);
    const now = tree?.pids ?? [];
    // Most trees are one or two processes: no Set for them on every tick.
    const kept = now.length > 8 ? new Set(now) : null;
    for (const pid of this.sampled) if (!(kept ? kept.has(pid) : now.includes(pid))) this.reader.close(pid);
    this.sampled = now;
    if (tree === null) return null;
    return { cpuSeconds: tree.cpuTicks / this.reader.clkTck, memBytes: tree.rssBytes, pids: tree.pids };
  }

  async pids(): Promise<number[]> {
    const app = this.appPid();
    return app === null ? [] : processTree(app);
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    const app = await this.waitAppPid();
    if (app !== null) {
      signalGroup(app, 'SIGTERM');
      const done = await Promise.race([this.exited.then(() => true), sleep(this.clock, graceMs).then(() => false)]);
      if (!done) signalGroup(app, 'SIGKILL');
    }
    const info = await this.exited;
    // Children the app left behind in its group go with it.
    if (app !== null) this.killLeftovers(app);
    return info;
  }

  async destroy(): Promise<void> {
    for (const pid of this.sampled) this.reader.close(pid);
    this.sampled = [];
    const app = await this.waitAppPid();
    if (app !== null) {
      this.killLeftovers(app);
      // The supervisor writes exit_status into runDir as the app dies; removing runDir
      // under it fails (ENOTEMPTY) or leaves a stray record, so let it finish first.
      await this.exited;
    }
    await rm(String(this.handle.runDir), { recursive: true, force: true });
  }

  /**
   * SIGKILL to the app's process group, unless the app has ended and nothing of its group
   * is left: a group id is a pid, and once every member is gone the number may belong to
   * another process (an instance destroyed long after its crash). A member that started
   * before the supervisor recorded the exit belongs to the app.
   */
  private killLeftovers(app: number): void {
    let exitedAtMs: number;
    try {
      exitedAtMs = statSync(join(String(this.handle.runDir), 'exit_status')).mtimeMs;
    } catch {
      signalGroup(app, 'SIGKILL'); // still running: the group is the app's own
      return;
    }
    // Usually nothing of the group is left, and one signal 0 says so: the scan of every
    // process on the host (to date the members) is for a group that still has some.
    if (!groupExists(app)) return;
    const exitTicks = ticksSinceBoot(exitedAtMs, this.reader.clkTck);
    if (groupMemberStarts(app).some((start) => start <= exitTicks)) signalGroup(app, 'SIGKILL');
  }

  private appPid(): number | null {
    try {
      const pid = Number(readFileSync(join(String(this.handle.runDir), 'app.pid'), 'utf8').trim());
      return Number.isInteger(pid) && pid > 1 ? pid : null;
    } catch {
      return null;
    }
  }

  /** The supervisor writes app.pid right after forking; a stop may come sooner. */
  private async waitAppPid(): Promise<number | null> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (let i = 0; i < 200 && !exited; i++) {
      const pid = this.appPid();
      if (pid !== null) return pid;
      await sleep(this.clock, 10);
    }
    return this.appPid();
  }
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

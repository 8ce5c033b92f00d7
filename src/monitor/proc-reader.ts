import { readdirSync, readFileSync } from 'node:fs';
import { parseProcStatBytes } from './proc-parse.js';
import { closeQuietly, isGone, openOrNull, ReadBuffer } from './pseudo-file.js';
import { kernelConstants, type KernelConstants } from './kernel.js';

/** One process as the monitor needs it, from a single read of /proc/<pid>/stat. */
export interface ProcSample {
  /** utime + stime of the process itself, in clock ticks */
  readonly cpuTicks: number;
  /**
   * cutime + cstime: CPU of children it has waited for. When a child in a tree exits and
   * its parent reaps it, the child's ticks move here, so a tree's cpuTicks + childTicks
   * does not drop the way the sum of cpuTicks alone does.
   */
  readonly childTicks: number;
  readonly rssBytes: number;
  readonly startTicks: number;
  readonly ppid: number;
  readonly pgrp: number;
  readonly numThreads: number;
  readonly state: string;
}

interface Entry {
  readonly statFd: number;
  readonly startTicks: number;
  numThreads: number;
  /**
   * tid → fd of /proc/<pid>/task/<tid>/children, or null for a thread whose file is read by
   * path each time (the fd budget was spent); the map is null until first listed
   */
  tasks: Map<number, number | null> | null;
  childrenCalls: number;
}

export interface ProcReaderOptions {
  readonly constants?: KernelConstants;
  /**
   * Most per-thread children files kept open at once; threads past it are read by path
   * (about 3× the cost). Stat files are always kept: one per process. Default: a quarter
   * of this process's open-file limit, so the agent's own sockets and logs never starve.
   */
  readonly maxTaskFds?: number;
}

/**
 * A thread that exits and is replaced by a new one leaves the thread count unchanged, and
 * the dead thread's children file just reads empty (its children move to a live thread).
 * So besides re-listing on a count change, the task list is re-read every this many
 * children() calls: a child forked from such a new thread is found within that many ticks.
 */
const RELIST_TASKS_EVERY = 8;

/**
 * Keeps /proc/<pid>/stat (and the per-thread children files) open per process and re-reads
 * them at offset 0 into one reused buffer. An fd stays bound to the process it was opened
 * for: once that process is gone reads fail with ESRCH (stat) or return nothing (children),
 * never a recycled pid's data.
 *
 * Holds 1 fd per sampled process plus 1 per thread of processes whose children were asked
 * for (up to `maxTaskFds` of those in all); retain() or close() release them.
 */
export class ProcReader {
  private readonly entries = new Map<number, Entry>();
  private readonly rb = new ReadBuffer(1024);
  private readonly pageSize: number;
  private readonly maxTaskFds: number;
  private taskFds = 0;
  readonly clkTck: number;

  constructor(options: ProcReaderOptions = {}) {
    const constants = options.constants ?? kernelConstants();
    this.pageSize = constants.pageSize;
    this.clkTck = constants.clkTck;
    this.maxTaskFds = options.maxTaskFds ?? Math.floor(openFileLimit() / 4);
  }

  /**
   * Reads the process now. Null (and its fds closed) when it is gone, a zombie's parent
   * reaped it, or it is not the process that started at `expectStartTicks` (pid reuse).
   */
  sample(pid: number, expectStartTicks?: number): ProcSample | null {
    let entry = this.entries.get(pid);
    if (entry === undefined) {
      const fd = openOrNull(`/proc/${pid}/stat`);
      if (fd === null) return null;
      const s = this.readStat(pid, fd);
      if (s === null) return null;
      entry = { statFd: fd, startTicks: s.startTicks, numThreads: s.numThreads, tasks: null, childrenCalls: 0 };
      this.entries.set(pid, entry);
      return this.checkStart(pid, s, expectStartTicks);
    }
    const s = this.readStat(pid, entry.statFd);
    if (s === null) return null;
    if (s.startTicks !== entry.startTicks) return this.dropped(pid);
    entry.numThreads = s.numThreads;
    return this.checkStart(pid, s, expectStartTicks);
  }

  /**
   * Direct children of `pid` across all its threads (a thread can fork too). Uses the
   * thread count from the last sample(); samples first if the process is new to the reader.
   */
  children(pid: number): number[] {
    const entry = this.entries.get(pid) ?? (this.sample(pid) ? this.entries.get(pid) : undefined);
    if (entry === undefined) return [];
    entry.childrenCalls++;
    const stale = entry.tasks === null || entry.tasks.size !== entry.numThreads;
    if (stale || entry.childrenCalls % RELIST_TASKS_EVERY === 0) this.relistTasks(pid, entry);
    const out: number[] = [];
    for (const [tid, fd] of entry.tasks ?? []) {
      try {
        const buf = fd === null ? readFileSync(`/proc/${pid}/task/${tid}/children`) : this.rb.buf;
        pushPids(buf, fd === null ? buf.length : this.rb.read(fd), out);
      } catch (err) {
        if (!isGone(err)) throw err;
      }
    }
    return out;
  }

  close(pid: number): void {
    const entry = this.entries.get(pid);
    if (entry === undefined) return;
    this.entries.delete(pid);
    closeQuietly(entry.statFd);
    for (const fd of entry.tasks?.values() ?? []) this.closeTaskFd(fd);
  }

  /** Closes every process not in `keep` (those that left the trees being watched). */
  retain(keep: ReadonlySet<number>): void {
    for (const pid of [...this.entries.keys()]) if (!keep.has(pid)) this.close(pid);
  }

  closeAll(): void {
    for (const pid of [...this.entries.keys()]) this.close(pid);
  }

  /** File descriptors held: stat files plus per-thread children files. */
  openCount(): number {
    return this.entries.size + this.taskFds;
  }

  /** Pids with an open entry. */
  pids(): number[] {
    return [...this.entries.keys()];
  }

  private readStat(pid: number, fd: number): ProcSample | null {
    let n: number;
    try {
      n = this.rb.read(fd);
    } catch (err) {
      if (isGone(err)) return this.dropped(pid, fd);
      throw err;
    }
    const f = parseProcStatBytes(this.rb.buf, n);
    if (f === null) return this.dropped(pid, fd);
    return {
      cpuTicks: f.utimeTicks + f.stimeTicks,
      childTicks: f.cutimeTicks + f.cstimeTicks,
      rssBytes: f.rssPages * this.pageSize,
      startTicks: f.startTicks,
      ppid: f.ppid,
      pgrp: f.pgrp,
      numThreads: f.numThreads,
      state: f.state,
    };
  }

  private checkStart(pid: number, s: ProcSample, expect: number | undefined): ProcSample | null {
    return expect === undefined || expect === s.startTicks ? s : this.dropped(pid);
  }

  /** Forgets `pid`; `fd` is closed too when it was not registered yet. */
  private dropped(pid: number, fd?: number): null {
    if (this.entries.has(pid)) this.close(pid);
    else if (fd !== undefined) closeQuietly(fd);
    return null;
  }

  /** Opens children files of new threads, closes those of threads that are gone. */
  private relistTasks(pid: number, entry: Entry): void {
    let tids: number[];
    try {
      tids = readdirSync(`/proc/${pid}/task`).map(Number);
    } catch (err) {
      if (!isGone(err)) throw err;
      tids = [];
    }
    const old = entry.tasks ?? new Map<number, number | null>();
    const next = new Map<number, number | null>();
    for (const tid of tids) {
      const known = old.get(tid);
      if (known !== undefined) next.set(tid, known);
      else if (this.taskFds >= this.maxTaskFds) next.set(tid, null);
      else this.openTaskFd(next, tid, `/proc/${pid}/task/${tid}/children`);
    }
    for (const [tid, fd] of old) if (!next.has(tid)) this.closeTaskFd(fd);
    entry.tasks = next;
  }

  private openTaskFd(tasks: Map<number, number | null>, tid: number, path: string): void {
    const fd = openOrNull(path);
    if (fd === null) return; // the thread has exited
    this.taskFds++;
    tasks.set(tid, fd);
  }

  private closeTaskFd(fd: number | null): void {
    if (fd === null) return;
    closeQuietly(fd);
    this.taskFds--;
  }
}

/** The soft RLIMIT_NOFILE, read once per reader from /proc/self/limits (1024 if unknown). */
function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'latin1')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isFinite(soft) && soft > 0 ? soft : 1024;
  } catch {
    return 1024;
  }
}


/** The bytes "123 456 " → 123, 456 appended to `out` (no string built on the per-tick path). */
function pushPids(buf: Buffer, len: number, out: number[]): void {
  let v = 0;
  for (let i = 0; i < len; i++) {
    const c = buf[i]!;
    if (c >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
    } else {
      if (v > 0) out.push(v);
      v = 0;
    }
  }
  if (v > 0) out.push(v);
}

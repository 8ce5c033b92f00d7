/**
 * How busy the machine is, so figures taken while other work ran (tests, type checks on
 * the same two vCPUs) can be told apart from quiet ones.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface CpuTimes {
  busy: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export function loadAvg1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** USER_HZ: /proc reports CPU time in ticks of 10 ms on Linux. */
const TICK_MS = 10;

/** Starts measuring; the returned function gives the machine-wide busy share (0..1) since. */
export function cpuMeter(): () => number {
  const a = cpuTimes();
  return () => {
    const b = cpuTimes();
    return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
  };
}

/** CPU time of a process so far, ms: its own, and that of the children it has reaped. */
export interface ProcessCpu {
  readonly selfMs: number;
  readonly reapedChildrenMs: number;
}

export function cpuOf(pid: number): ProcessCpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
  const at = (field: number): number => f[field - 3] ?? Number.NaN;
  return { selfMs: (at(14) + at(15)) * TICK_MS, reapedChildrenMs: (at(16) + at(17)) * TICK_MS };
}

/**
 * CPU time of all live threads of a process, ms, with nanosecond resolution
 * (/proc/<pid>/task/<tid>/schedstat), where /proc/<pid>/stat counts 10 ms ticks.
 */
export function threadsCpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

export interface ForeignLoad {
  /** Machine-wide busy share (0..1), everything included. */
  readonly busy: number;
  /** Share (0..1) of all CPUs used by processes that are not this benchmark's. */
  readonly foreign: number;
}

/**
 * Measures how much of the machine other people's processes took over a stretch of the
 * benchmark: machine-wide busy time minus the CPU of this process, its reaped descendants
 * (agents and everything they ran, once stopped; direct apps; tar) and `extraPids`
 * (long-lived children such as nats-server). Call the result only after every child
 * started in between has been reaped.
 */
export function foreignMeter(extraPids: readonly number[] = []): () => ForeignLoad {
  const ours = (): number =>
    [process.pid, ...extraPids].reduce((sum, pid) => {
      try {
        const c = cpuOf(pid);
        return sum + c.selfMs + (pid === process.pid ? c.reapedChildrenMs : 0);
      } catch {
        return sum; // gone
      }
    }, 0);
  const a = cpuTimes();
  const oursA = ours();
  return () => {
    const b = cpuTimes();
    const total = b.total - a.total;
    if (total <= 0) return { busy: 0, foreign: 0 };
    const busyMs = (b.busy - a.busy) * TICK_MS;
    const oursMs = ours() - oursA;
    return { busy: (b.busy - a.busy) / total, foreign: Math.max(0, busyMs - oursMs) / (total * TICK_MS) };
  };
}

/** Machine-wide busy share over `ms` while this process sleeps. */
export async function sampleBusy(ms: number): Promise<number> {
  const stop = cpuMeter();
  await new Promise((r) => setTimeout(r, ms));
  return stop();
}

/**
 * Waits (up to `maxWaitMs`) for a one-second sample under `threshold`; returns every sample.
 * Proceeds either way: the caller records how busy it was.
 */
export async function waitForQuiet(threshold: number, maxWaitMs: number, onBusy: (busy: number) => void): Promise<number[]> {
  const samples: number[] = [];
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const busy = await sampleBusy(1_000);
    samples.push(busy);
    if (busy < threshold || Date.now() >= deadline) return samples;
    onBusy(busy);
  }
}

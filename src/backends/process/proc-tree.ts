import { readdirSync, readFileSync } from 'node:fs';

/**
 * Descendants of `pid` from /proc/<pid>/task/<tid>/children, without a fork.
 * Children that exit while we read are simply missing.
 */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    // A process that is gone (or a zombie) is no longer part of the tree.
    if (startTimeTicks(p) === null) continue;
    out.push(p);
    for (const child of childrenOf(p)) queue.push(child);
  }
  return out;
}

function childrenOf(pid: number): number[] {
  try {
    // The main thread's list holds the children forked by the process; apps that fork
    // from other threads are rare and the container backend counts by cgroup anyway.
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text
      .split(' ')
      .filter((s) => s.length > 0)
      .map(Number);
  } catch {
    return [];
  }
}

/** Whether `pid` is alive and is the process that started at `startTicks` (guards pid reuse). */
export function isSameProcess(pid: number, startTicks: number | null): boolean {
  const ticks = startTimeTicks(pid);
  if (ticks === null) return false;
  return startTicks === null || ticks === startTicks;
}

/** Field 22 of /proc/<pid>/stat; the command name may hold spaces and ')'. */
export function startTimeTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19]. A zombie has exited already.
    if (rest[0] === 'Z') return null;
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Start times (clock ticks since boot) of the processes in process group `pgid`, from
 * /proc. Costs one read per process on the host: for a stop, not for a monitor tick.
 */
export function groupMemberStarts(pgid: number): number[] {
  const starts: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return starts;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // rest[2] is field 5 (pgrp), rest[19] field 22 (start time).
      if (rest[0] !== 'Z' && Number(rest[2]) === pgid) starts.push(Number(rest[19]));
    } catch {
      // gone while we looked
    }
  }
  return starts;
}

/** A wall-clock time (ms since the epoch) as clock ticks since boot, the unit of start times. */
export function ticksSinceBoot(epochMs: number, clkTck: number): number {
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const bootMs = Date.now() - uptimeS * 1000;
  return Math.floor(((epochMs - bootMs) / 1000) * clkTck);
}

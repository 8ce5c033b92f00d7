import { readdirSync, readFileSync } from 'node:fs';
import type { ProcReader } from './proc-reader.js';

/**
 * Every descendant of `pid` (not `pid` itself), breadth first, from
 * /proc/<pid>/task/<tid>/children of every thread: no `ps`, no fork, no scan of all of
 * /proc. With a ProcReader the children files stay open between calls; without one each
 * call opens them afresh. Processes that exit while we read are simply missing.
 */
export function descendants(pid: number, reader?: ProcReader): number[] {
  const kids = reader ? (p: number) => reader.children(p) : childrenOf;
  return walkTree(pid, kids).slice(1);
}

/** Breadth-first from `root`, expanding each visited pid once; returns the visit order. */
function walkTree(root: number, expand: (pid: number) => readonly number[]): number[] {
  const order = [root];
  let seen: Set<number> | undefined; // built only once there is a child: most apps have none
  for (let i = 0; i < order.length; i++) {
    for (const child of expand(order[i]!)) {
      seen ??= new Set(order);
      // A pid recycled mid-walk could otherwise loop us back up the tree.
      if (seen.has(child)) continue;
      seen.add(child);
      order.push(child);
    }
  }
  return order;
}

/** Direct children over all threads, opening each file once (no cached fds). */
export function childrenOf(pid: number): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const t of text.split(' ')) if (t.length > 0) out.push(Number(t));
  }
  return out;
}

/** CPU and memory of a whole process tree at one moment. */
export interface TreeSample {
  /** the root first, then its live descendants */
  readonly pids: number[];
  /**
   * Σ (utime + stime + cutime + cstime) over the tree, in clock ticks. Counting reaped
   * children's time keeps the sum from dropping when a child exits and its parent waits
   * for it; it still drops when an unreaped subtree leaves (orphans go to init).
   */
  readonly cpuTicks: number;
  /**
   * Σ RSS, in bytes. Pages shared between a parent and its forked children count once per
   * process (what `ps` summing, and DEA v1, did); the cgroup figure is exact where available.
   */
  readonly rssBytes: number;
}

/**
 * Samples `rootPid` and all its descendants through `reader`. Null when the root is gone
 * (or is not the process that started at `expectStartTicks`).
 */
export function sampleTree(rootPid: number, reader: ProcReader, expectStartTicks?: number): TreeSample | null {
  const pids: number[] = [];
  let cpuTicks = 0;
  let rssBytes = 0;
  // Sample before listing children so children() sees this tick's thread count, and each
  // process costs one stat read.
  walkTree(rootPid, (pid) => {
    const s = reader.sample(pid, pid === rootPid ? expectStartTicks : undefined);
    if (s === null) return [];
    cpuTicks += s.cpuTicks + s.childTicks;
    rssBytes += s.rssBytes;
    pids.push(pid);
    return reader.children(pid);
  });
  return pids[0] === rootPid ? { pids, cpuTicks, rssBytes } : null;
}

/**
 * Samples only `pids` (a tree listed earlier, root first), without reading any children
 * list: half the reads of sampleTree. A process that has gone since drops out; one forked
 * since is found at the next full sampleTree. Null when the root is gone.
 */
export function sampleKnown(pids: readonly number[], reader: ProcReader): TreeSample | null {
  const alive: number[] = [];
  let cpuTicks = 0;
  let rssBytes = 0;
  for (const pid of pids) {
    const s = reader.sample(pid);
    if (s === null) continue;
    cpuTicks += s.cpuTicks + s.childTicks;
    rssBytes += s.rssBytes;
    alive.push(pid);
  }
  return alive.length > 0 && alive[0] === pids[0] ? { pids: alive, cpuTicks, rssBytes } : null;
}

import { existsSync, readFileSync } from 'node:fs';
import { cacheFromText, inactiveFileFromText, rssFromText, parseCpuStatUsageUsec, parseOomKills } from './proc-parse.js';
import { closeQuietly, isGone, openOrNull, ReadBuffer } from './pseudo-file.js';

/**
 * v1: controllers on per-controller hierarchies; v2: one unified hierarchy;
 * hybrid: both (this machine: cpu, cpuacct and memory on v1, cgroup2 at
 * /sys/fs/cgroup/unified with no controllers). A v1 mount with no controller
 * (name=systemd) does not count as v1.
 */
export type CgroupLayout = 'v1' | 'v2' | 'hybrid' | 'none';

export interface CgroupMounts {
  readonly layout: CgroupLayout;
  /** v1 controller → mount point (co-mounted controllers share one) */
  readonly v1: ReadonlyMap<string, string>;
  /** the cgroup2 mount point, if any */
  readonly v2: string | null;
}

const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids',
  'net_cls', 'net_prio', 'perf_event', 'hugetlb', 'rdma', 'misc',
]);

/** Cgroup mounts from /proc/self/mountinfo text (proc(5): fields, then " - type source opts"). */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    const type = f[sep + 1];
    const mountPoint = unescapeMountPath(f[4] ?? '');
    if (sep < 0 || mountPoint === '') continue;
    if (type === 'cgroup2') v2 ??= mountPoint;
    if (type !== 'cgroup') continue;
    for (const opt of (f[sep + 3] ?? '').split(',')) if (V1_CONTROLLERS.has(opt)) v1.set(opt, mountPoint);
  }
  return { layout: layoutOf(v1.size > 0, v2 !== null), v1, v2 };
}

function layoutOf(hasV1: boolean, hasV2: boolean): CgroupLayout {
  if (hasV1 && hasV2) return 'hybrid';
  return hasV1 ? 'v1' : hasV2 ? 'v2' : 'none';
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** This host's cgroup mounts; falls back to probing /sys/fs/cgroup if mountinfo is unreadable. */
export function detectCgroups(): CgroupMounts {
  try {
    return parseCgroupMounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    const base = '/sys/fs/cgroup';
    const v1 = new Map([...V1_CONTROLLERS].filter((c) => existsSync(`${base}/${c}/tasks`)).map((c) => [c, `${base}/${c}`]));
    const v2 = existsSync(`${base}/cgroup.controllers`) ? base : existsSync(`${base}/unified/cgroup.controllers`) ? `${base}/unified` : null;
    return { layout: layoutOf(v1.size > 0, v2 !== null), v1, v2 };
  }
}

export function detectCgroupLayout(): CgroupLayout {
  return detectCgroups().layout;
}

/** One instance's groups. Each figure comes from v1 when its directory is given, else v2. */
export interface CgroupDirs {
  /** v1 cpuacct group directory */
  readonly cpuacct?: string;
  /** v1 memory group directory */
  readonly memory?: string;
  /** v2 group directory */
  readonly unified?: string;
}

export interface CgroupUsage {
  /** the group's total CPU time, ns (v2's microseconds scaled) */
  readonly cpuNs: number | null;
  /** usage minus inactive file cache (the working set), bytes */
  readonly memBytes: number | null;
  /** processes the OOM killer killed in the group */
  readonly oomKills: number | null;
}

export interface CgroupReaderOptions {
  /**
   * Read memory.stat (for the inactive file cache subtracted from usage) on every this
   * many read() calls, reusing the last figure in between. It is the dear file: ~13 µs a
   * read here for a v1 group against 2–4 µs for each of the others. 1 (the default)
   * keeps the working set exact, as memory quotas want. The OOM counter is read with it.
   */
  readonly memoryStatEvery?: number;
}

/** One buffer for every reader: reads are synchronous, and 500 groups need not hold 500. */
const shared = new ReadBuffer(4096);

/**
 * Reads a group's usage through fds opened once and re-read at offset 0. A figure whose
 * file does not exist (controller not enabled there) is null. The fds sit in fields, not
 * a map, and the single-number files are parsed from the bytes: a monitor tick reads
 * them for every instance (cpuacct.usage ~4 µs and memory.usage_in_bytes ~1.5 µs a read
 * here), so the reader adds as little as it can on top.
 */
export class CgroupReader {
  /** cpuacct.usage (ns), or v2 cpu.stat when `cpuIsStat` */
  private cpuFd: number | null = null;
  private cpuIsStat = false;
  /** memory.usage_in_bytes or memory.current */
  private memFd: number | null = null;
  private statFd: number | null = null;
  /** memory.oom_control or memory.events */
  private oomFd: number | null = null;
  private readonly memoryStatEvery: number;
  private reads = 0;
  private inactiveFile = 0;
  private cache: number | null = null;
  private rss: number | null = null;
  private oomKills: number | null = null;
  private closed = false;

  constructor(dirs: CgroupDirs, options: CgroupReaderOptions = {}) {
    this.memoryStatEvery = Math.max(1, options.memoryStatEvery ?? 1);
    const mem = dirs.memory;
    const v2 = dirs.unified;
    if (dirs.cpuacct !== undefined) this.cpuFd = openOrNull(`${dirs.cpuacct}/cpuacct.usage`);
    else if (v2 !== undefined) {
      this.cpuFd = openOrNull(`${v2}/cpu.stat`);
      this.cpuIsStat = true;
    }
    if (mem !== undefined) {
      this.memFd = openOrNull(`${mem}/memory.usage_in_bytes`);
      this.statFd = openOrNull(`${mem}/memory.stat`);
      this.oomFd = openOrNull(`${mem}/memory.oom_control`);
    } else if (v2 !== undefined) {
      this.memFd = openOrNull(`${v2}/memory.current`);
      if (this.memFd !== null) {
        this.statFd = openOrNull(`${v2}/memory.stat`);
        this.oomFd = openOrNull(`${v2}/memory.events`);
      }
    }
  }

  /**
   * The group's usage now; null once the group has been removed (its fds are closed then)
   * or if none of its files could be opened.
   */
  read(): CgroupUsage | null {
    if (this.closed || (this.cpuFd === null && this.memFd === null)) return null;
    try {
      const cpuNs = this.readCpuNs();
      const usage = this.memFd === null ? null : shared.number(this.memFd);
      if (this.reads++ % this.memoryStatEvery === 0) this.readSlow();
      return {
        cpuNs,
        // the working set: usage minus inactive file cache, floored at 0, as Garden and the kubelet count it
        memBytes: usage === null ? null : Math.max(0, usage - this.inactiveFile),
        oomKills: this.oomKills,
      };
    } catch (err) {
      if (!isGone(err)) throw err;
      this.close();
      return null;
    }
  }

  /** Page cache and anonymous memory from memory.stat as of the last read() that read it. */
  memoryStat(): { readonly cacheBytes: number | null; readonly rssBytes: number | null } {
    return { cacheBytes: this.cache, rssBytes: this.rss };
  }

  /** Files held open. */
  openCount(): number {
    return [this.cpuFd, this.memFd, this.statFd, this.oomFd].filter((fd) => fd !== null).length;
  }

  close(): void {
    for (const fd of [this.cpuFd, this.memFd, this.statFd, this.oomFd]) if (fd !== null) closeQuietly(fd);
    this.cpuFd = this.memFd = this.statFd = this.oomFd = null;
    this.closed = true;
  }

  private readCpuNs(): number | null {
    if (this.cpuFd === null) return null;
    if (!this.cpuIsStat) return shared.number(this.cpuFd);
    const usec = parseCpuStatUsageUsec(shared.text(this.cpuFd));
    return usec === null ? null : usec * 1000;
  }

  /** memory.stat and the OOM counter: the dear files, read every `memoryStatEvery` reads. */
  private readSlow(): void {
    if (this.statFd !== null) {
      const stat = shared.text(this.statFd);
      this.inactiveFile = inactiveFileFromText(stat);
      this.cache = cacheFromText(stat);
      this.rss = rssFromText(stat);
    }
    if (this.oomFd !== null) this.oomKills = parseOomKills(shared.text(this.oomFd));
  }
}

/**
 * What an instance's limits mean in cgroup files: one table, for cgroup v1 (a hierarchy
 * per controller) and v2 (one unified hierarchy). Pure: the writes are returned in the
 * order they must happen, and `cgroups.ts` performs them.
 */

export interface CgroupLimits {
  /** The hard limit: the quota, or under elastic memory `max_factor` × the quota. */
  readonly memBytes: number;
  /**
   * Elastic memory only: the guarantee (the quota), kept from reclaim under pressure. The
   * instance may borrow up to `memBytes` while the pool has room (docs/containers.md).
   */
  readonly memSoftBytes?: number;
  /** CPU shares derived from memory (memory / ratio, clamped by the agent's config). */
  readonly cpuShares: number;
  readonly pidsMax: number;
}

/** [file name, value], written in order into the instance's group of one hierarchy. */
export type CgroupWrite = readonly [file: string, value: string];

/**
 * Devices an app may use (Warden's and runc's safe set): null, zero, full, random,
 * urandom, tty, ptmx and the pts ptys. `m` lets the container's init create their nodes.
 */
export const SAFE_DEVICES = [
  'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm', 'c 136:* rwm',
] as const;

/** The v1 controllers the backend puts an instance in; cpuset and blkio are left alone. */
export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'devices', 'freezer'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

/** v1 shares below 2 are refused by the kernel. */
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;

export function v1Writes(controller: V1Controller, limits: CgroupLimits, hasMemsw: boolean): CgroupWrite[] {
  switch (controller) {
    case 'memory': {
      // limit ≤ memsw must hold at every moment: from unlimited, lower the limit first.
      const mem = String(limits.memBytes);
      const hard: CgroupWrite[] = hasMemsw ? [['memory.limit_in_bytes', mem], ['memory.memsw.limit_in_bytes', mem]] : [['memory.limit_in_bytes', mem]];
      if (limits.memSoftBytes === undefined) return hard;
      // A new group inherits its parent's oom_kill_disable, and the elastic pool has it
      // set (the agent, not the kernel, picks whom to kill there): an instance at its own
      // hard limit is OOM-killed as usual only if its group says so itself.
      return [...hard, ['memory.soft_limit_in_bytes', String(limits.memSoftBytes)], ['memory.oom_control', '0']];
    }
    case 'cpu':
      return [['cpu.shares', String(clamp(limits.cpuShares, MIN_SHARES, MAX_SHARES))]];
    case 'pids':
      return [['pids.max', String(limits.pidsMax)]];
    case 'devices':
      return [['devices.deny', 'a'], ...SAFE_DEVICES.map((d): CgroupWrite => ['devices.allow', d])];
    case 'cpuacct':
    case 'freezer':
      return [];
  }
}

/**
 * v2: only for controllers enabled in the unified hierarchy. No swap at all (v2's
 * swap.max counts swap alone, unlike v1's memsw). v2 has no devices files: the device
 * policy there is the container's own /dev with nothing but the safe nodes, and no
 * capability to make more.
 */
export function v2Writes(limits: CgroupLimits, controllers: ReadonlySet<string>, hasSwapMax: boolean): CgroupWrite[] {
  const writes: CgroupWrite[] = [];
  if (controllers.has('memory')) {
    writes.push(['memory.max', String(limits.memBytes)]);
    if (limits.memSoftBytes !== undefined) writes.push(['memory.low', String(limits.memSoftBytes)]);
    if (hasSwapMax) writes.push(['memory.swap.max', '0']);
  }
  if (controllers.has('cpu')) writes.push(['cpu.weight', String(sharesToWeight(limits.cpuShares))]);
  if (controllers.has('pids')) writes.push(['pids.max', String(limits.pidsMax)]);
  return writes;
}

/**
 * v1 shares → v2 weight on the curve the OCI cgroups library now uses: log-quadratic, so
 * 2 → 1, the v1 default 1024 → the v2 default 100, 262144 → 10000 (the older linear
 * rule mapped 1024 to 39).
 */
export function sharesToWeight(shares: number): number {
  const s = clamp(shares, MIN_SHARES, MAX_SHARES);
  const l = Math.log2(s);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return clamp(Math.ceil(10 ** exponent), 1, 10_000);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(v)));
}

/**
 * The memory writes that move an existing group to `limits` from whatever it had (an
 * agent restarted with another memory policy adopts it): memsw unlimited first, so
 * limit ≤ memsw holds at every step, then the limits, the soft limit set or cleared.
 */
export function v1MemoryRewrites(limits: CgroupLimits, hasMemsw: boolean): CgroupWrite[] {
  const mem = String(limits.memBytes);
  const writes: CgroupWrite[] = [];
  if (hasMemsw) writes.push(['memory.memsw.limit_in_bytes', '-1']);
  writes.push(['memory.limit_in_bytes', mem]);
  if (hasMemsw) writes.push(['memory.memsw.limit_in_bytes', mem]);
  writes.push(['memory.soft_limit_in_bytes', limits.memSoftBytes === undefined ? '-1' : String(limits.memSoftBytes)], ['memory.oom_control', '0']);
  return writes;
}

export function v2MemoryRewrites(limits: CgroupLimits): CgroupWrite[] {
  return [['memory.max', String(limits.memBytes)], ['memory.low', String(limits.memSoftBytes ?? 0)]];
}

/**
 * Elastic memory's pool (after Gaia; docs/containers.md): the cgroup root that holds every
 * container instance gets the apps' share of the node as its hard limit; each instance
 * gets its quota as a guarantee and may grow to `max_factor` × quota while the pool has
 * room. When the pool runs short the kernel must not pick a victim at random: on v1 the
 * pool's OOM killer is disabled (its tasks wait instead) and the agent kills the
 * instance furthest above its guarantee; on v2, which cannot disable it, `memory.high`
 * a little below `memory.max` throttles the pool and tells the agent first. Pure.
 */
import type { CgroupWrite } from './cgroup-limits.js';

const MIB = 1024 * 1024;
/** v2: the pool is throttled, and the agent reclaims, from this share of its limit on. */
export const V2_HIGH_FRACTION = 0.95;

export type MemoryPolicy = 'hard' | 'elastic';

export interface PoolSizing {
  /** resources.memory_mb × memory_overcommit_factor: what placement may promise. */
  readonly appsMb: number;
  /** resources.reserved_memory_mb: kept for the agent and the node's own daemons. */
  readonly reservedMb: number;
  /** The machine's physical memory. */
  readonly physicalBytes: number;
}

/** The pool's hard limit: the apps' share, never more than physical memory minus the reserve. */
export function poolBytes(s: PoolSizing): number {
  const apps = Math.floor(s.appsMb * MIB);
  return Math.max(0, Math.min(apps, s.physicalBytes - s.reservedMb * MIB));
}

/** An elastic instance's limits: its quota guaranteed, `maxFactor` × quota at most, never over the pool. */
export function elasticLimits(quotaMb: number, maxFactor: number, pool: number): { memBytes: number; memSoftBytes: number } {
  const guarantee = quotaMb * MIB;
  return { memSoftBytes: guarantee, memBytes: Math.max(guarantee, Math.min(Math.floor(guarantee * maxFactor), pool)) };
}

/**
 * The writes that make the v1 memory root of the instances a pool of `pool` bytes (null:
 * no pool, today's hard limits, and what undoes an elastic pool after a policy change).
 * memsw goes unlimited first, so limit ≤ memsw holds whatever the values were before.
 */
export function v1PoolWrites(pool: number | null, hasMemsw: boolean): CgroupWrite[] {
  const value = pool === null ? '-1' : String(pool);
  const writes: CgroupWrite[] = [];
  if (hasMemsw) writes.push(['memory.memsw.limit_in_bytes', '-1']);
  writes.push(['memory.limit_in_bytes', value]);
  if (hasMemsw && pool !== null) writes.push(['memory.memsw.limit_in_bytes', value]);
  writes.push(['memory.oom_control', pool === null ? '0' : '1']);
  return writes;
}

/** The same for v2's unified root: `memory.max`, and `memory.high` just below it. */
export function v2PoolWrites(pool: number | null): CgroupWrite[] {
  if (pool === null) return [['memory.high', 'max'], ['memory.max', 'max']];
  return [['memory.max', String(pool)], ['memory.high', String(Math.floor(pool * V2_HIGH_FRACTION))]];
}

/** A cumulative CPU-time reading (ticks, or any unit with `perSecond` units a second). */
export interface CpuReading {
  readonly ticks: number;
  /** wall time of the reading, ms */
  readonly atMs: number;
}

/**
 * CPU use over the interval between two readings, as a fraction of one core (2 = two
 * cores busy). A rate from the change, not ps's lifetime average (%cpu = total / age).
 * 0 for the first reading or a non-positive interval; never negative, because a sum over a
 * process tree drops when a member exits and takes its ticks with it.
 *
 * `clkTck` is USER_HZ (100 on Linux); pass 1e9 for cgroup nanoseconds, 1e6 for usage_usec.
 */
export function cpuFraction(prev: CpuReading | null, now: CpuReading, clkTck = 100): number {
  if (prev === null) return 0;
  const dtMs = now.atMs - prev.atMs;
  const dTicks = now.ticks - prev.ticks;
  if (!(dtMs > 0) || !(dTicks > 0)) return 0;
  return dTicks / clkTck / (dtMs / 1000);
}

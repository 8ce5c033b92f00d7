import type { Limits, UsageSample } from '../instance/types.js';

const MIB = 1024 * 1024;

/** The nice level a CPU hog is pushed to, one step per tick (v1 DEA did the same). */
export const MAX_NICE = 19;
/** A process over half a core is a hog. */
export const CPU_HOG_FRACTION = 0.5;

/**
 * What a sample means for an instance's quotas (protocol §9.2), as a user-facing message,
 * or null. Memory first: an instance over both is reported for memory. With
 * `memoryIsGuarantee` (elastic memory, docs/containers.md) the memory quota is not a limit: the
 * instance may borrow above it, its cgroup caps it, and the pool's reclaim decides.
 */
export function quotaBreach(limits: Limits, sample: UsageSample, memoryIsGuarantee = false): string | null {
  if (!memoryIsGuarantee && sample.memBytes > limits.memMb * MIB) {
    return `Memory limit of ${limits.memMb}M exceeded. Usage: ${mb(sample.memBytes)}M.`;
  }
  if (sample.diskBytes > limits.diskMb * MIB) {
    return `Disk usage limit of ${limits.diskMb}M exceeded. Usage: ${mb(sample.diskBytes)}M.`;
  }
  return null;
}

/** The next nice level for an instance using `cpu` cores, or null to leave it. */
export function nextNice(current: number, cpu: number): number | null {
  return cpu > CPU_HOG_FRACTION && current < MAX_NICE ? current + 1 : null;
}

function mb(bytes: number): number {
  return Math.round((bytes / MIB) * 10) / 10;
}

/**
 * Tells the agent when the elastic memory pool runs short, so that it, not the kernel,
 * picks whom to kill (docs/containers.md). Polled: one pread of a kept fd every POOL_POLL_MS
 * (a few µs), since Node cannot wait on v1's eventfd notification and fs.watch does not
 * fire on v1's memory.oom_control (isolation reference §13, row 6). The poll interval
 * bounds the time from the pool filling to the reclaim kill (goal: under 200 ms).
 */
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../../platform/clock.js';
import { closeQuietly, openOrNull, ReadBuffer } from '../../monitor/pseudo-file.js';

export const POOL_POLL_MS = 50;

/** Whether the pool is short right now; false when it cannot be read. */
export type PoolProbe = { short(): boolean; close(): void };

/**
 * v1: the pool's OOM killer is disabled, so a pool at its limit that reclaim cannot
 * relieve shows `under_oom 1` while its allocating tasks wait.
 */
export function v1PoolProbe(memoryRoot: string): PoolProbe {
  const fd = openOrNull(join(memoryRoot, 'memory.oom_control'));
  const buf = new ReadBuffer(256);
  return {
    short: () => fd !== null && /\bunder_oom 1\b/.test(buf.text(fd)),
    close: () => fd !== null && closeQuietly(fd),
  };
}

/** v2: the pool has crossed `memory.high`, which sits just below `memory.max`. */
export function v2PoolProbe(unifiedRoot: string, highBytes: number): PoolProbe {
  const fd = openOrNull(join(unifiedRoot, 'memory.current'));
  const buf = new ReadBuffer(64);
  return {
    short: () => fd !== null && (buf.number(fd) ?? 0) >= highBytes,
    close: () => fd !== null && closeQuietly(fd),
  };
}

/** Calls `onShort` at every poll that finds the pool short (the caller debounces). */
export class PoolPressure {
  private timer: TimerHandle | null = null;

  constructor(
    private readonly probe: PoolProbe,
    private readonly clock: Clock,
    private readonly intervalMs = POOL_POLL_MS,
  ) {}

  start(onShort: () => void): void {
    this.timer ??= this.clock.every(this.intervalMs, () => {
      if (this.probe.short()) onShort();
    });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.probe.close();
  }
}

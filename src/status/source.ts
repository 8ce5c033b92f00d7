import type { Capacity, Reservations } from '../instance/resources.js';
import type { InstanceView } from '../instance/types.js';

/** The monitor's measurement of its own last tick. */
export interface TickCost {
  readonly atMs: number;
  readonly wallMs: number;
  /** Of wallMs, the part spent measuring disk (the rest is CPU, memory and quotas). */
  readonly diskWallMs: number;
  /** Instances whose disk was measured this tick. */
  readonly diskMeasured: number;
  /** CPU of the whole tick, and of its first two phases: reading CPU and memory, measuring disk. */
  readonly cpuMs: number;
  readonly readCpuMs?: number;
  /**
   * Wall time of reading CPU and memory: on an idle machine the main thread's own CPU for
   * it, which the CPU figures (the whole process's: GC and pool threads too) overstate.
   */
  readonly readWallMs?: number;
  readonly diskCpuMs?: number;
  readonly instances: number;
}

/** Everything the status server shows, read-only. */
export interface StatusSource {
  instances(): readonly InstanceView[];
  capacity(): Capacity;
  reservations(): Reservations;
  lastTick(): TickCost | null;
  /** The costs of the last few ticks, oldest first. */
  recentTicks?(): readonly TickCost[];
  /**
   * Elastic memory (docs/containers.md): quotas are guarantees and instances may borrow above
   * them; absent or false under hard limits.
   */
  memoryIsGuarantee?(): boolean;
}

/** What an instance uses above its memory guarantee (0 within it). */
export function borrowedBytes(i: InstanceView): number {
  return Math.max(0, (i.usage?.memBytes ?? 0) - i.spec.limits.memMb * 1024 * 1024);
}

import type { ResourcesConfig } from '../config/types.js';
import type { InstanceRegistry } from './registry.js';
import { DISK_RESERVING, MEMORY_RESERVING } from './states.js';
import type { InstanceView, Limits } from './types.js';

export interface Capacity {
  readonly memoryMb: number;
  readonly diskMb: number;
}

export interface Reservations {
  readonly reservedMemoryMb: number;
  readonly reservedDiskMb: number;
  readonly availableMemoryMb: number;
  readonly availableDiskMb: number;
}

/** Capacity with overcommit (protocol §8.1). */
export function capacityOf(cfg: Pick<ResourcesConfig, 'memoryMb' | 'memoryOvercommitFactor' | 'diskMb' | 'diskOvercommitFactor'>): Capacity {
  return {
    memoryMb: cfg.memoryMb * cfg.memoryOvercommitFactor,
    diskMb: cfg.diskMb * cfg.diskOvercommitFactor,
  };
}

/**
 * A crash keeps its disk because its directory is kept (protocol §8.1). A start refused
 * for lack of resources went BORN → CRASHED with no directory: counting its disk would
 * let one oversized request block every later start until the crash is reaped.
 */
function refusedAtBirth(i: InstanceView): boolean {
  return i.state === 'CRASHED' && i.startingTimestamp === null;
}

function reservedMb(registry: InstanceRegistry, exclude?: object): { mem: number; disk: number } {
  let mem = 0;
  let disk = 0;
  for (const i of registry.all()) {
    if (i === exclude) continue;
    if (MEMORY_RESERVING.has(i.state)) mem += i.spec.limits.memMb;
    if (DISK_RESERVING.has(i.state) && !refusedAtBirth(i)) disk += i.spec.limits.diskMb;
  }
  return { mem, disk };
}

/** What the registry holds against the capacity. Pure arithmetic, no I/O. */
export function reservations(capacity: Capacity, registry: InstanceRegistry): Reservations {
  const { mem, disk } = reservedMb(registry);
  return {
    reservedMemoryMb: mem,
    reservedDiskMb: disk,
    availableMemoryMb: capacity.memoryMb - mem,
    availableDiskMb: capacity.diskMb - disk,
  };
}

export type Shortfall = 'disk' | 'memory' | null;

/**
 * Whether `limits` fit beside what is reserved, ignoring `self` (already registered).
 * Disk is checked first, as dea_ng did.
 */
export function shortfall(capacity: Capacity, registry: InstanceRegistry, limits: Limits, self?: object): Shortfall {
  const { mem, disk } = reservedMb(registry, self);
  if (capacity.diskMb - disk < limits.diskMb) return 'disk';
  if (capacity.memoryMb - mem < limits.memMb) return 'memory';
  return null;
}

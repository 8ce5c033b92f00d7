import { describe, expect, it } from 'vitest';
import { InstanceRegistry } from '../../../src/instance/registry.js';
import { capacityOf, reservations, shortfall } from '../../../src/instance/resources.js';
import { INSTANCE_STATES, type InstanceState } from '../../../src/instance/types.js';
import { instanceIn } from './fixtures.js';

const CAP = { memoryMb: 1_000, diskMb: 5_000 };

function registryOf(...states: InstanceState[]): InstanceRegistry {
  const reg = new InstanceRegistry();
  for (const s of states) reg.add(instanceIn(s, { limits: { memMb: 100, diskMb: 400, fds: 64 } }));
  return reg;
}

describe('capacityOf', () => {
  it('multiplies capacity by the overcommit factors (protocol §8.1)', () => {
    expect(capacityOf({ memoryMb: 2048, memoryOvercommitFactor: 2, diskMb: 10_000, diskOvercommitFactor: 1.5 })).toEqual({
      memoryMb: 4096,
      diskMb: 15_000,
    });
  });
});

describe('reservations by state (protocol §8.1)', () => {
  const memory: Record<InstanceState, number> = {
    BORN: 100, STARTING: 100, RUNNING: 100, STOPPING: 100,
    STOPPED: 0, CRASHED: 0, RESUMING: 0, EVACUATING: 0,
  };
  const disk: Record<InstanceState, number> = {
    BORN: 400, STARTING: 400, RUNNING: 400, STOPPING: 400, CRASHED: 400,
    STOPPED: 0, RESUMING: 0, EVACUATING: 0,
  };

  it.each(INSTANCE_STATES)('an instance in %s reserves what the protocol says', (state) => {
    const r = reservations(CAP, registryOf(state));
    expect(r).toEqual({
      reservedMemoryMb: memory[state],
      reservedDiskMb: disk[state],
      availableMemoryMb: 1_000 - memory[state],
      availableDiskMb: 5_000 - disk[state],
    });
  });

  it('sums over every instance', () => {
    const r = reservations(CAP, registryOf('RUNNING', 'RUNNING', 'STARTING', 'CRASHED', 'STOPPED'));
    expect(r.reservedMemoryMb).toBe(300);
    expect(r.reservedDiskMb).toBe(1_600);
  });

  it('an empty registry leaves the whole capacity available', () => {
    expect(reservations(CAP, new InstanceRegistry())).toEqual({
      reservedMemoryMb: 0, reservedDiskMb: 0, availableMemoryMb: 1_000, availableDiskMb: 5_000,
    });
  });
});

describe('shortfall', () => {
  const limits = (memMb: number, diskMb: number) => ({ memMb, diskMb, fds: 64 });

  it('is null when both fit, an exact fit included', () => {
    const reg = registryOf('RUNNING'); // 900 MB memory and 4600 MB disk left
    expect(shortfall(CAP, reg, limits(900, 4_600))).toBeNull();
  });

  it('names memory when only memory is short', () => {
    expect(shortfall(CAP, registryOf('RUNNING'), limits(901, 10))).toBe('memory');
  });

  it('names disk when only disk is short', () => {
    expect(shortfall(CAP, registryOf('RUNNING'), limits(10, 4_601))).toBe('disk');
  });

  it('checks disk first: both short is a disk shortfall', () => {
    expect(shortfall(CAP, registryOf('RUNNING'), limits(5_000, 50_000))).toBe('disk');
  });

  it('ignores the instance asking (already registered)', () => {
    const reg = new InstanceRegistry();
    const self = instanceIn('BORN', { limits: limits(1_000, 5_000) });
    reg.add(self);
    expect(shortfall(CAP, reg, self.spec.limits, self)).toBeNull();
    expect(shortfall(CAP, reg, self.spec.limits)).toBe('disk');
  });

  it('a crashed instance keeps its disk but frees its memory', () => {
    const reg = registryOf('CRASHED');
    expect(shortfall(CAP, reg, limits(1_000, 4_600))).toBeNull();
    expect(shortfall(CAP, reg, limits(1_000, 4_601))).toBe('disk');
  });

  it('overcommit lets more fit than the physical capacity', () => {
    const cap = capacityOf({ memoryMb: 200, memoryOvercommitFactor: 2, diskMb: 10_000, diskOvercommitFactor: 1 });
    const reg = registryOf('RUNNING', 'RUNNING', 'RUNNING'); // 300 MB of 400 MB
    expect(shortfall(cap, reg, limits(100, 100))).toBe(null);
    expect(shortfall(cap, reg, limits(101, 100))).toBe('memory');
  });
});

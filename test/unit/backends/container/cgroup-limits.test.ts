import { describe, expect, it } from 'vitest';
import { sharesToWeight, v1Writes, v2Writes } from '../../../../src/backends/container/cgroup-limits.js';

const limits = { memBytes: 256 * 1024 * 1024, cpuShares: 32, pidsMax: 512 };

describe('v1 writes', () => {
  it('lowers the memory limit before memsw (limit ≤ memsw at every moment)', () => {
    expect(v1Writes('memory', limits, true)).toEqual([
      ['memory.limit_in_bytes', '268435456'],
      ['memory.memsw.limit_in_bytes', '268435456'],
    ]);
    expect(v1Writes('memory', limits, false)).toEqual([['memory.limit_in_bytes', '268435456']]);
  });

  it('writes shares (never below the kernel minimum of 2), pids.max, and denies devices before allowing the safe set', () => {
    expect(v1Writes('cpu', limits, true)).toEqual([['cpu.shares', '32']]);
    expect(v1Writes('cpu', { ...limits, cpuShares: 1 }, true)).toEqual([['cpu.shares', '2']]);
    expect(v1Writes('pids', limits, true)).toEqual([['pids.max', '512']]);
    const devices = v1Writes('devices', limits, true);
    expect(devices[0]).toEqual(['devices.deny', 'a']);
    expect(devices.slice(1).map(([, v]) => v)).toContain('c 1:3 rwm');
    expect(devices.slice(1).every(([f]) => f === 'devices.allow')).toBe(true);
    expect(v1Writes('freezer', limits, true)).toEqual([]);
  });
});

describe('v2 writes', () => {
  it('writes memory.max with no swap, cpu.weight and pids.max for the controllers offered', () => {
    expect(v2Writes(limits, new Set(['memory', 'cpu', 'pids']), true)).toEqual([
      ['memory.max', '268435456'],
      ['memory.swap.max', '0'],
      ['cpu.weight', String(sharesToWeight(32))],
      ['pids.max', '512'],
    ]);
  });

  it('writes nothing for a controller the unified hierarchy does not offer (a hybrid host)', () => {
    expect(v2Writes(limits, new Set(['hugetlb']), false)).toEqual([]);
    expect(v2Writes(limits, new Set(['memory']), false)).toEqual([['memory.max', '268435456']]);
  });
});

describe('shares → weight', () => {
  it('follows the log-quadratic curve: 2 → 1, 1024 → 100, 262144 → 10000', () => {
    const table = [[2, 1], [64, 12], [128, 21], [256, 35], [512, 59], [1024, 100], [2048, 174], [4096, 303], [8192, 532], [262144, 10000]];
    for (const [shares, weight] of table) expect(sharesToWeight(shares!)).toBe(weight);
  });

  it('clamps out-of-range shares into the v2 range instead of failing the write', () => {
    expect(sharesToWeight(0)).toBe(1);
    expect(sharesToWeight(10_000_000)).toBe(10_000);
  });
});

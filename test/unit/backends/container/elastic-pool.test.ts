import { describe, expect, it } from 'vitest';
import { v1Writes, v2Writes } from '../../../../src/backends/container/cgroup-limits.js';
import { elasticLimits, poolBytes, v1PoolWrites, v2PoolWrites } from '../../../../src/backends/container/elastic-pool.js';

const MIB = 1024 * 1024;

describe('the elastic memory pool', () => {
  it('is the apps\' share of the node, never more than physical memory minus the reserve', () => {
    expect(poolBytes({ appsMb: 256, reservedMb: 256, physicalBytes: 24 * 1024 * MIB })).toBe(256 * MIB);
    expect(poolBytes({ appsMb: 8192, reservedMb: 256, physicalBytes: 4096 * MIB })).toBe(3840 * MIB);
    expect(poolBytes({ appsMb: 100, reservedMb: 512, physicalBytes: 256 * MIB })).toBe(0);
  });

  it('gives an instance its quota as a guarantee and max_factor × quota as its limit, within the pool', () => {
    expect(elasticLimits(64, 2, 1024 * MIB)).toEqual({ memSoftBytes: 64 * MIB, memBytes: 128 * MIB });
    expect(elasticLimits(64, 2, 100 * MIB)).toEqual({ memSoftBytes: 64 * MIB, memBytes: 100 * MIB });
    // The guarantee holds even if the pool is smaller (placement never promises that much).
    expect(elasticLimits(64, 2, 10 * MIB)).toEqual({ memSoftBytes: 64 * MIB, memBytes: 64 * MIB });
  });

  it('v1: memsw unlimited first, then the limits, and the pool\'s OOM killer off', () => {
    expect(v1PoolWrites(256 * MIB, true)).toEqual([
      ['memory.memsw.limit_in_bytes', '-1'],
      ['memory.limit_in_bytes', String(256 * MIB)],
      ['memory.memsw.limit_in_bytes', String(256 * MIB)],
      ['memory.oom_control', '1'],
    ]);
    expect(v1PoolWrites(null, true)).toEqual([
      ['memory.memsw.limit_in_bytes', '-1'],
      ['memory.limit_in_bytes', '-1'],
      ['memory.oom_control', '0'],
    ]);
    expect(v1PoolWrites(256 * MIB, false)).toEqual([['memory.limit_in_bytes', String(256 * MIB)], ['memory.oom_control', '1']]);
  });

  it('v2: memory.high just below memory.max, or both back to max', () => {
    expect(v2PoolWrites(1000 * MIB)).toEqual([['memory.max', String(1000 * MIB)], ['memory.high', String(Math.floor(1000 * MIB * 0.95))]]);
    expect(v2PoolWrites(null)).toEqual([['memory.high', 'max'], ['memory.max', 'max']]);
  });

  it('an elastic instance\'s group: soft limit = guarantee, its own OOM killer on (v1), memory.low (v2)', () => {
    const limits = { memBytes: 128 * MIB, memSoftBytes: 64 * MIB, cpuShares: 8, pidsMax: 512 };
    expect(v1Writes('memory', limits, true)).toEqual([
      ['memory.limit_in_bytes', String(128 * MIB)],
      ['memory.memsw.limit_in_bytes', String(128 * MIB)],
      ['memory.soft_limit_in_bytes', String(64 * MIB)],
      ['memory.oom_control', '0'],
    ]);
    expect(v2Writes(limits, new Set(['memory']), false)).toEqual([['memory.max', String(128 * MIB)], ['memory.low', String(64 * MIB)]]);
  });
});

describe('rewriting an adopted group\'s memory for another policy', () => {
  it('v1: memsw unlimited first, then the new limits, the soft limit set or cleared', async () => {
    const { v1MemoryRewrites, v2MemoryRewrites } = await import('../../../../src/backends/container/cgroup-limits.js');
    expect(v1MemoryRewrites({ memBytes: 64 * MIB, cpuShares: 8, pidsMax: 1 }, true)).toEqual([
      ['memory.memsw.limit_in_bytes', '-1'],
      ['memory.limit_in_bytes', String(64 * MIB)],
      ['memory.memsw.limit_in_bytes', String(64 * MIB)],
      ['memory.soft_limit_in_bytes', '-1'],
      ['memory.oom_control', '0'],
    ]);
    expect(v1MemoryRewrites({ memBytes: 128 * MIB, memSoftBytes: 64 * MIB, cpuShares: 8, pidsMax: 1 }, false)).toEqual([
      ['memory.limit_in_bytes', String(128 * MIB)],
      ['memory.soft_limit_in_bytes', String(64 * MIB)],
      ['memory.oom_control', '0'],
    ]);
    expect(v2MemoryRewrites({ memBytes: 64 * MIB, cpuShares: 8, pidsMax: 1 })).toEqual([['memory.max', String(64 * MIB)], ['memory.low', '0']]);
  });
});

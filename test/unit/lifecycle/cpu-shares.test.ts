/** CPU shares follow memory (protocol §5.4): memory / ratio, within the configured clamps. */
import { describe, expect, it } from 'vitest';
import { cpuShares } from '../../../src/lifecycle/prepare.js';

const cfg = { memoryToCpuShareRatio: 8, minCpuShareLimit: 4, maxCpuShareLimit: 256 } as Parameters<typeof cpuShares>[1];

describe('cpuShares', () => {
  it('is memory / ratio, rounded down', () => {
    expect(cpuShares(256, cfg)).toBe(32);
    expect(cpuShares(100, cfg)).toBe(12);
    expect(cpuShares(1024, { ...cfg, memoryToCpuShareRatio: 2 })).toBe(256);
  });

  it('is clamped to min_cpu_share_limit and max_cpu_share_limit', () => {
    expect(cpuShares(16, cfg)).toBe(4);
    expect(cpuShares(1, cfg)).toBe(4);
    expect(cpuShares(8 * 1024, cfg)).toBe(256);
  });
});

import { describe, expect, it } from 'vitest';
import { MAX_NICE, nextNice, quotaBreach } from '../../../src/monitor/quota.js';

const MIB = 1024 * 1024;
const limits = { memMb: 64, diskMb: 128, fds: 1024 };
const sample = (memBytes: number, diskBytes: number) => ({ time: 0, cpu: 0, memBytes, diskBytes });

describe('quotaBreach', () => {
  it('is silent at and under the quotas', () => {
    expect(quotaBreach(limits, sample(64 * MIB, 128 * MIB))).toBeNull();
  });

  it('names the memory limit and the usage when memory is over', () => {
    expect(quotaBreach(limits, sample(80 * MIB + MIB / 2, 0))).toBe('Memory limit of 64M exceeded. Usage: 80.5M.');
  });

  it('names the disk limit and the usage when disk is over', () => {
    expect(quotaBreach(limits, sample(0, 129 * MIB))).toBe('Disk usage limit of 128M exceeded. Usage: 129M.');
  });

  it('reports memory first when both are over', () => {
    expect(quotaBreach(limits, sample(65 * MIB, 200 * MIB))).toMatch(/^Memory limit/);
  });
});

describe('nextNice', () => {
  it('pushes a hog one step per tick and never past 19', () => {
    expect(nextNice(0, 0.9)).toBe(1);
    expect(nextNice(18, 0.9)).toBe(MAX_NICE);
    expect(nextNice(MAX_NICE, 0.9)).toBeNull();
  });

  it('leaves an app at or under half a core alone', () => {
    expect(nextNice(3, 0.5)).toBeNull();
    expect(nextNice(0, 0.1)).toBeNull();
  });
});

describe('quotaBreach under elastic memory', () => {
  it('leaves memory above the quota alone (a guarantee, not a limit) but still enforces disk', () => {
    const limits = { memMb: 64, diskMb: 10, fds: 1024 };
    const over = { time: 0, cpu: 0, memBytes: 100 * 1024 * 1024, diskBytes: 0 };
    expect(quotaBreach(limits, over)).toMatch(/^Memory limit of 64M exceeded/);
    expect(quotaBreach(limits, over, true)).toBeNull();
    expect(quotaBreach(limits, { ...over, diskBytes: 20 * 1024 * 1024 }, true)).toMatch(/^Disk usage limit of 10M exceeded/);
  });
});

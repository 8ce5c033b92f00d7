import { describe, expect, it } from 'vitest';
import { bar, bytes, cpu, duration, fit, table, usage } from '../../../src/cli/deactl/format.js';

describe('deactl formatting', () => {
  it('sizes', () => {
    expect([0, 1023, 1536, 10 * 1024 * 1024, 128 * 1024 * 1024, 3 * 1024 ** 4].map(bytes)).toEqual(['0B', '1023B', '1.5K', '10M', '128M', '3.0T']);
    expect(bytes(undefined)).toBe('-');
    expect(usage(12 * 1024 * 1024, 128 * 1024 * 1024)).toBe('12M/128M');
  });

  it('durations', () => {
    expect([5, 65, 3 * 3600 + 7 * 60, 2 * 86400 + 3600].map(duration)).toEqual(['5s', '1m05s', '3h07m', '2d01h']);
    expect(duration(null)).toBe('-');
  });

  it('CPU as a percentage of one core', () => {
    expect(cpu(0.1234)).toBe('12.3%');
    expect(cpu(2)).toBe('200.0%');
  });

  it('bars are clamped and exactly as wide as asked', () => {
    expect(bar(0.5, 10)).toBe('█████░░░░░');
    expect(bar(3, 4)).toBe('████');
    expect(bar(-1, 4)).toBe('░░░░');
    expect(bar(Number.NaN, 2)).toBe('░░');
  });

  it('fit cuts with an ellipsis', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('abc', 4)).toBe('abc');
  });

  it('tables have no borders and no trailing blanks', () => {
    const t = table(['A', 'BB'], [['x', 'y'], ['long', 'z']]);
    expect(t.split('\n')).toEqual(['A     BB', 'x     y', 'long  z']);
  });
});

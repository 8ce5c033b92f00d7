import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuFraction } from '../../../src/monitor/cpu.js';

describe('cpuFraction', () => {
  it('is 0 for the first reading', () => {
    expect(cpuFraction(null, { ticks: 5000, atMs: 10_000 })).toBe(0);
  });

  it('is the change in CPU time over the change in wall time', () => {
    expect(cpuFraction({ ticks: 100, atMs: 0 }, { ticks: 300, atMs: 2000 })).toBe(1);
    expect(cpuFraction({ ticks: 100, atMs: 0 }, { ticks: 150, atMs: 2000 })).toBe(0.25);
    expect(cpuFraction({ ticks: 0, atMs: 0 }, { ticks: 400, atMs: 2000 })).toBe(2); // two cores
  });

  it('takes other units: cgroup ns and usage_usec', () => {
    expect(cpuFraction({ ticks: 0, atMs: 0 }, { ticks: 1e9, atMs: 2000 }, 1e9)).toBe(0.5);
    expect(cpuFraction({ ticks: 0, atMs: 0 }, { ticks: 3e6, atMs: 2000 }, 1e6)).toBe(1.5);
  });

  it('is 0, not negative, when a tree loses an exited child’s ticks, or time does not advance', () => {
    expect(cpuFraction({ ticks: 900, atMs: 0 }, { ticks: 300, atMs: 2000 })).toBe(0);
    expect(cpuFraction({ ticks: 0, atMs: 2000 }, { ticks: 300, atMs: 2000 })).toBe(0);
    expect(cpuFraction({ ticks: 0, atMs: 2000 }, { ticks: 300, atMs: 1000 })).toBe(0);
  });

  it('is never negative nor NaN for any readings', () => {
    const reading = fc.record({ ticks: fc.nat(), atMs: fc.integer({ min: 0, max: 1e12 }) });
    fc.assert(
      fc.property(reading, reading, (a, b) => {
        const f = cpuFraction(a, b);
        expect(f).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(f)).toBe(true);
      }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { PoolPressure } from '../../../src/backends/container/pool-pressure.js';
import { silentLogger } from '../../../src/platform/logger.js';
import { Reclaimer } from '../../../src/monitor/reclaimer.js';
import { VirtualClock } from '../../support/virtual-clock.js';

const MIB = 1024 * 1024;
const target = (id: string, guaranteeMb: number, usedMb: number) => ({
  subject: id,
  candidate: { instanceId: id, guaranteeBytes: guaranteeMb * MIB, usedBytes: usedMb * MIB, startedAtMs: 0 },
});

describe('the reclaimer', () => {
  it('kills the instance furthest over its guarantee, one at a time, with the reclaim description', async () => {
    const killed: Array<[string, string]> = [];
    let finish: () => void = () => undefined;
    const r = new Reclaimer<string>({
      candidates: () => [target('within', 64, 60), target('borrower', 64, 110)],
      kill: (id, reason) => {
        killed.push([id, reason]);
        return new Promise<void>((resolve) => (finish = resolve));
      },
      logger: silentLogger(),
    });
    r.onShort();
    r.onShort(); // still short while the first kill is under way: nobody else
    expect(killed).toEqual([['borrower', 'out of memory: reclaimed for other instances (used 110 MB of a 64 MB guarantee)']]);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    r.onShort(); // short again once it is gone: the next one
    expect(killed.map(([id]) => id)).toEqual(['borrower', 'borrower']);
  });

  it('kills nobody when everyone is within their guarantee', () => {
    const killed: string[] = [];
    const r = new Reclaimer<string>({
      candidates: () => [target('a', 64, 64), target('b', 64, 10)],
      kill: async (id) => void killed.push(id),
      logger: silentLogger(),
    });
    r.onShort();
    expect(killed).toEqual([]);
  });
});

describe('the pool pressure poll', () => {
  it('reports every poll that finds the pool short, until stopped', async () => {
    const clock = new VirtualClock(0);
    let short = false;
    let closed = false;
    const pressure = new PoolPressure({ short: () => short, close: () => (closed = true) }, clock, 50);
    let calls = 0;
    pressure.start(() => calls++);
    await clock.advance(100);
    expect(calls).toBe(0);
    short = true;
    await clock.advance(100);
    expect(calls).toBe(2);
    pressure.stop();
    await clock.advance(100);
    expect(calls).toBe(2);
    expect(closed).toBe(true);
  });
});

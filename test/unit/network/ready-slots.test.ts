import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/platform/logger.js';
import { ReadySlots } from '../../../src/network/ready-slots.js';
import { capturingLogger } from '../staging/helpers.js';

/** Slots are numbers; making one is a promise the test settles. */
function harness(size: number) {
  let next = 0;
  const dropped: number[] = [];
  let failNext = false;
  const slots = new ReadySlots(
    async () => {
      if (failNext) throw new Error('pool full');
      return next++;
    },
    async (n: number) => void dropped.push(n),
    size,
    silentLogger(),
  );
  return { slots, dropped, fail: (v: boolean) => (failNext = v) };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('ReadySlots', () => {
  it('fills up to its size once started, hands out ready ones first, refills only when asked', async () => {
    const { slots } = harness(2);
    slots.start();
    await settle();
    expect(slots.peek()).toEqual([0, 1]);
    expect(await slots.take()).toBe(0);
    await settle();
    expect(slots.peek()).toEqual([1]); // not refilled by take: the start is still under way
    slots.refill();
    await settle();
    expect(slots.peek()).toEqual([1, 2]);
  });

  it('makes one on demand when none is ready, and stops filling when making fails', async () => {
    const { slots, fail } = harness(2);
    expect(await slots.take()).toBe(0);
    fail(true);
    slots.start();
    await settle();
    expect(slots.peek()).toEqual([]);
  });

  it('drops the ready ones when closed, and makes no more', async () => {
    const { slots, dropped } = harness(2);
    slots.start();
    await settle();
    await slots.close();
    expect(dropped).toEqual([0, 1]);
    slots.refill();
    await settle();
    expect(slots.peek()).toEqual([]);
  });

  it('says which ready ones could not be taken down at close, and still takes down the rest', async () => {
    const { logger, lines } = capturingLogger();
    let next = 0;
    const dropped: number[] = [];
    const slots = new ReadySlots(
      async () => next++,
      async (n: number) => {
        if (n === 0) throw new Error('netns busy');
        dropped.push(n);
      },
      2,
      logger,
    );
    slots.start();
    await settle();
    await slots.close();
    expect(dropped).toEqual([1]);
    const said = lines.map((l) => JSON.parse(l) as { event?: string; err?: string }).filter((l) => l.event === 'network.slot.drop_failed');
    expect(said).toHaveLength(1);
    expect(said[0]!.err).toContain('netns busy');
  });
});

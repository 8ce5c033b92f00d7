import { describe, expect, it } from 'vitest';
import { bookPlacement, fromAdvert, place, placeMany, type PlacementAdvert, type PlacementNeed } from '../../../src/controller/placement.js';

const ad = (id: string, over: Partial<PlacementAdvert> = {}): PlacementAdvert => ({
  id,
  stacks: ['cflinuxfs4'],
  availableMemoryMb: 1024,
  availableDiskMb: 4096,
  appCounts: {},
  zone: 'default',
  ...over,
});
const need: PlacementNeed = { appId: 'web', stack: 'cflinuxfs4', memMb: 256, diskMb: 512 };
const first = () => 0;
const last = () => 0.999;

describe('place (protocol §8.4)', () => {
  it('keeps only agents with the stack, the memory and the disk', () => {
    const ads = [ad('a', { stacks: ['other'] }), ad('b', { availableMemoryMb: 255 }), ad('c', { availableDiskMb: 511 }), ad('d')];
    expect(place(ads, need, first)).toEqual({ ok: true, agentId: 'd' });
    expect(place(ads, need, last)).toEqual({ ok: true, agentId: 'd' });
  });

  it('takes an advert without available_disk as having room (as CC did)', () => {
    expect(place([ad('a', { availableDiskMb: null })], need)).toEqual({ ok: true, agentId: 'a' });
  });

  it('prefers the zone with the fewest instances of the app over an emptier agent', () => {
    const ads = [
      ad('a1', { zone: 'a', availableMemoryMb: 4096, appCounts: { web: 1 } }),
      ad('a2', { zone: 'a', availableMemoryMb: 4096 }),
      ad('b1', { zone: 'b', availableMemoryMb: 512, appCounts: { web: 0, other: 5 } }),
    ];
    expect(place(ads, need, first)).toEqual({ ok: true, agentId: 'b1' });
    expect(place(ads, need, last)).toEqual({ ok: true, agentId: 'b1' });
  });

  it('then the agents with the fewest instances of the app, other apps not counting', () => {
    // b, c and d have one each; the upper half by memory of those three is b and c.
    const ads = [ad('a', { appCounts: { web: 2 }, availableMemoryMb: 4096 }), ad('b', { appCounts: { web: 1, other: 9 } }), ad('c', { appCounts: { web: 1 } }), ad('d', { appCounts: { web: 1 }, availableMemoryMb: 512 })];
    const picks = new Set([first, last].map((r) => (place(ads, need, r) as { agentId: string }).agentId));
    expect(picks).toEqual(new Set(['b', 'c']));
  });

  it('then the emptier half by memory, at random', () => {
    const ads = [ad('a', { availableMemoryMb: 300 }), ad('b', { availableMemoryMb: 900 }), ad('c', { availableMemoryMb: 800 }), ad('d', { availableMemoryMb: 400 })];
    expect(place(ads, need, first)).toEqual({ ok: true, agentId: 'b' });
    expect(place(ads, need, last)).toEqual({ ok: true, agentId: 'c' });
  });

  it('says why nothing fits: no agents, the stack, or capacity', () => {
    expect(place([], need)).toEqual({ ok: false, why: { kind: 'no-agents' } });
    expect(place([ad('a', { stacks: ['x', 'y'] }), ad('b', { stacks: ['y'] })], need)).toEqual({ ok: false, why: { kind: 'stack', offered: ['x', 'y'] } });
    expect(place([ad('a', { availableMemoryMb: 100, availableDiskMb: 9000 }), ad('b', { availableMemoryMb: 200, availableDiskMb: 100 })], need)).toEqual({
      ok: false,
      why: { kind: 'capacity', bestMemoryMb: 200, bestDiskMb: 9000 },
    });
  });

  it('does not read an app count from the prototype', () => {
    const p = place([ad('a'), ad('b', { appCounts: { web: 1 } })], { ...need, appId: '__proto__' }, first);
    expect(p.ok).toBe(true);
  });
});

describe('placeMany and bookPlacement', () => {
  it('books each start locally: memory, disk and the app count', () => {
    const [booked] = bookPlacement([ad('a')], 'a', need);
    expect(booked).toMatchObject({ availableMemoryMb: 768, availableDiskMb: 3584, appCounts: { web: 1 } });
  });

  it('spreads a burst over zones, then agents, and stops where capacity ends', () => {
    const ads = [ad('a1', { zone: 'a' }), ad('a2', { zone: 'a' }), ad('b1', { zone: 'b' })];
    const three = placeMany(ads, need, 3, first);
    expect(new Set(three.agents).size).toBe(3);
    expect(three.short).toBeNull();
    const small = placeMany([ad('x', { availableMemoryMb: 600 })], need, 3, first);
    expect(small.agents).toEqual(['x', 'x']);
    expect(small.short).toEqual({ kind: 'capacity', bestMemoryMb: 88, bestDiskMb: 3072 });
  });

  it('alternates zones for an app with many instances', () => {
    const ads = [ad('a1', { zone: 'a', availableMemoryMb: 8192 }), ad('b1', { zone: 'b', availableMemoryMb: 8192 })];
    const { agents } = placeMany(ads, need, 6, last);
    expect(agents.filter((a) => a === 'a1')).toHaveLength(3);
    expect(agents.filter((a) => a === 'b1')).toHaveLength(3);
  });
});

describe('fromAdvert', () => {
  it('reads a dea.advertise body, a missing zone as default', () => {
    expect(fromAdvert({ id: 'x', stacks: ['s'], available_memory: 10, app_id_to_count: { a: 2 } })).toEqual({
      id: 'x',
      stacks: ['s'],
      availableMemoryMb: 10,
      availableDiskMb: null,
      appCounts: { a: 2 },
      zone: 'default',
    });
    expect(fromAdvert({ id: 'y', placement_properties: { zone: 'z1' } }).zone).toBe('z1');
  });
});

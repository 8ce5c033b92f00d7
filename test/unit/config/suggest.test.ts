import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { configSchema } from '../../../src/config/index.js';
import { closestKey, editDistance, keysAt } from '../../../src/config/suggest.js';

describe('editDistance', () => {
  it.each([
    ['heartbeat', 'heartbeat', 0],
    ['hearbeat', 'heartbeat', 1],
    ['heartbaet', 'heartbeat', 1],
    ['usr', 'user', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
  ])('%s → %s is %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  it('is zero only for equal words and never more than the longer length (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d === 0).toBe(a === b);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });
});

describe('closestKey', () => {
  const intervals = ['heartbeat', 'advertise', 'router_register_in_seconds'];

  it('offers the key a typo came from', () => {
    expect(closestKey('hearbeat', intervals)).toBe('heartbeat');
    expect(closestKey('advertize', intervals)).toBe('advertise');
    expect(closestKey('Router-Register-In-Seconds', intervals)).toBe('router_register_in_seconds');
  });

  it('offers nothing for a different word', () => {
    expect(closestKey('tyop', intervals)).toBeUndefined();
    expect(closestKey('beat', intervals)).toBeUndefined();
    expect(closestKey('lxcfs', ['cgroup_root', 'lxcfs_dir', 'disk_limit'])).toBeUndefined();
  });
});

describe('keysAt', () => {
  it('finds the keys of every section of the config schema, through lists too', () => {
    expect(keysAt(configSchema, [])).toEqual(expect.arrayContaining(['base_dir', 'nats_servers', 'intervals']));
    expect(keysAt(configSchema, ['intervals'])).toEqual(['heartbeat', 'advertise', 'router_register_in_seconds']);
    expect(keysAt(configSchema, ['backend', 'container'])).toEqual(['cgroup_root', 'lxcfs_dir', 'disk_limit', 'memory_policy', 'network']);
    expect(keysAt(configSchema, ['stacks', 3])).toEqual(['name', 'package_path']);
  });

  it('finds nothing below a leaf or an unknown key', () => {
    expect(keysAt(configSchema, ['base_dir'])).toEqual([]);
    expect(keysAt(configSchema, ['nope', 'deeper'])).toEqual([]);
  });
});

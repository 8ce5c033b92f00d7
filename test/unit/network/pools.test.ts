import { mkdtemp, mkdir, rm, utimes, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Claims } from '../../../src/network/claims.js';
import { parseCidr } from '../../../src/network/ipv4.js';
import { HostPortPool } from '../../../src/network/port-pool.js';
import { SubnetPool, subnetCount } from '../../../src/network/subnet-pool.js';

describe('SubnetPool', () => {
  it('hands out /30s (.1 host, .2 container), round robin after the last taken', () => {
    const pool = new SubnetPool(parseCidr('10.254.0.0/28')!);
    expect(pool.size).toBe(4);
    const all = [...pool.candidates()];
    expect(all.map((s) => s.network)).toEqual(['10.254.0.0', '10.254.0.4', '10.254.0.8', '10.254.0.12']);
    expect(all[1]).toEqual({ network: '10.254.0.4', hostIp: '10.254.0.5', containerIp: '10.254.0.6' });
    pool.taken(all[1]!);
    expect([...pool.candidates()][0]?.network).toBe('10.254.0.8');
    expect(pool.holds('10.254.0.12')).toBe(true);
    expect(pool.holds('10.254.0.13')).toBe(false);
    expect(subnetCount(parseCidr('10.254.0.0/22')!)).toBe(256);
  });
});

describe('claims and the host port pool', () => {
  let dir: string;
  let now = 0;
  let claims: Claims;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dea-claims-'));
    await mkdir(join(dir, 'netns'));
    now = Date.now();
    claims = new Claims(join(dir, 'claims'), join(dir, 'netns'), () => now);
    await claims.init();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const pool = (size: number) =>
    new HostPortPool(claims, { start: 61001, size, ownerOf: (id) => `dea-aaaaaaaa-${id}`, owns: (o) => o.startsWith('dea-aaaaaaaa-') });
  const id = (n: number) => String(n).padStart(32, '0');

  it('claims ports host-wide; another agent never gets a taken one; exhaustion says so', async () => {
    const mine = pool(2);
    expect(await mine.allocate(id(1))).toBe(61001);
    expect(await claims.holder('ports', '61001')).toBe(`dea-aaaaaaaa-${id(1)}`);
    const theirs = new HostPortPool(claims, { start: 61001, size: 2, ownerOf: (i) => `dea-bbbbbbbb-${i}`, owns: () => true });
    expect(await theirs.allocate(id(2))).toBe(61002);
    await expect(mine.allocate(id(3))).rejects.toMatchObject({ exitDescription: expect.stringMatching(/no free host port/) });
  });

  it('a claim whose namespace is gone is taken over only once it is stale', async () => {
    expect(await claims.claim('subnets', '10.254.0.0', 'dea-bbbbbbbb-x')).toBe(true);
    expect(await claims.claim('subnets', '10.254.0.0', 'dea-aaaaaaaa-y')).toBe(false);
    const path = join(dir, 'claims', 'subnets', '10.254.0.0');
    const old = new Date(now - 10 * 60_000);
    await utimes(path, old, old).catch(() => undefined);
    // utimes follows the link: age the link itself by moving the clock instead.
    if ((await lstat(path)).mtimeMs > old.getTime()) now += 10 * 60_000;
    expect(await claims.claim('subnets', '10.254.0.0', 'dea-aaaaaaaa-y')).toBe(true);
    await claims.release('subnets', '10.254.0.0', 'dea-bbbbbbbb-x');
    expect(await claims.holder('subnets', '10.254.0.0')).toBe('dea-aaaaaaaa-y');
  });
});

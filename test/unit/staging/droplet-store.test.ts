import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DropletCache } from '../../../src/staging/droplet-cache.js';
import { validDroplet } from '../../support/tarballs.js';
import { DROPLET, SHA1, useCacheHarness } from './cache-harness.js';
import { closedPort, writeTgz } from './helpers.js';

const h = useCacheHarness();

async function seedTwo(): Promise<{ cache: DropletCache; a: string; b: string }> {
  const other = validDroplet({ startup: 'other' });
  const cache = h.newCache();
  const a = (await cache.fetch(null, pathToFileURL(await writeTgz(h.root, 'a.tgz', DROPLET)).href)).sha1;
  const b = (await cache.fetch(null, pathToFileURL(await writeTgz(h.root, 'b.tgz', other)).href)).sha1;
  return { cache, a, b };
}

describe('DropletCache: reaping', () => {
  it('reap removes only droplets not in use and returns their SHA-1s', async () => {
    const { cache, a, b } = await seedTwo();
    expect(await cache.reap(new Set([a]))).toEqual([b]);
    expect(await readdir(h.dropletsDir)).toEqual([a]);
    expect(cache.list()).toEqual([a]);
    expect(await cache.reap(new Set([a]))).toEqual([]);
    expect(await cache.reap(new Set())).toEqual([a]);
    expect(await readdir(h.dropletsDir)).toEqual([]);
  });

  it('a reaped droplet is downloaded again when needed', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET } });
    const cache = h.newCache();
    await cache.fetch(SHA1, srv.url('/d'));
    await cache.reap(new Set());
    await cache.fetch(SHA1, srv.url('/d'));
    expect(srv.hits('/d')).toBe(2);
  });

  it('a cached file deleted behind the cache is downloaded again', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET } });
    const cache = h.newCache();
    const cached = await cache.fetch(SHA1, srv.url('/d'));
    await rm(path.dirname(cached.path), { recursive: true });
    await cache.fetch(SHA1, srv.url('/d'));
    expect(srv.hits('/d')).toBe(2);
  });
});

describe('DropletCache: restart', () => {
  it('droplets survive a restart: a new cache on the same dir serves them without downloading', async () => {
    const { a } = await seedTwo();
    const port = await closedPort();
    const restarted = h.newCache();
    await restarted.init();
    expect(restarted.list().sort()).toEqual((await readdir(h.dropletsDir)).sort());
    await expect(restarted.fetch(a, `http://127.0.0.1:${port}/never`)).resolves.toMatchObject({ sha1: a });
    expect(restarted.stats()).toEqual({ downloads: 0, hits: 1 });
  });

  it('a restarted cache can reap droplets it has only seen on disk', async () => {
    const { a, b } = await seedTwo();
    expect((await h.newCache().reap(new Set([b]))).sort()).toEqual([a]);
    expect(await readdir(h.dropletsDir)).toEqual([b]);
  });

  it('init clears what an interrupted run left behind', async () => {
    const { a } = await seedTwo();
    const partial = 'b'.repeat(40);
    await mkdir(path.join(h.dropletsDir, partial));
    await mkdir(path.join(h.dropletsDir, `${a}.deleted.123-1`));
    await writeFile(path.join(h.tmpDir, 'droplet-1-1-abcd.tgz.part'), 'half');
    await writeFile(path.join(h.tmpDir, 'someone-elses-file'), 'keep');
    const restarted = h.newCache();
    await restarted.init();
    expect(restarted.has(partial)).toBe(false);
    expect((await readdir(h.dropletsDir)).filter((n) => n.includes('.deleted.') || n === partial)).toEqual([]);
    expect(await readdir(h.tmpDir)).toEqual(['someone-elses-file']);
  });
});

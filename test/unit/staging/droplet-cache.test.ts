import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import { eventually } from '../../support/eventually.js';
import { HOSTILE_FIXTURES, sha1Of, tgzBuffer, truncatedGzip } from '../../support/tarballs.js';
import { DROPLET, SHA1, useCacheHarness } from './cache-harness.js';
import { token, writeTgz } from './helpers.js';

const h = useCacheHarness();

describe('DropletCache.fetch: verify, scan, store', () => {
  it('downloads, verifies and stores the droplet (dir 0755, file 0644), then serves it from the cache', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET } });
    const cache = h.newCache();
    const first = await cache.fetch(SHA1, srv.url('/d'));
    expect(first).toEqual({ sha1: SHA1, path: path.join(h.dropletsDir, SHA1, 'droplet.tgz') });
    expect(await readFile(first.path)).toEqual(DROPLET);
    expect((await stat(first.path)).mode & 0o777).toBe(0o644);
    expect((await stat(path.dirname(first.path))).mode & 0o777).toBe(0o755);

    const second = await cache.fetch(SHA1, srv.url('/d'));
    expect(second).toEqual(first);
    expect(srv.hits('/d')).toBe(1);
    expect(cache.stats()).toEqual({ downloads: 1, hits: 1 });
    expect(await readdir(h.tmpDir)).toEqual([]);
  });

  it('keys the droplet by its computed SHA-1 when none is given', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET } });
    const cache = h.newCache();
    expect((await cache.fetch(null, srv.url('/d'))).sha1).toBe(SHA1);
    await cache.fetch(SHA1, srv.url('/d'));
    expect(srv.hits('/d')).toBe(1);
  });

  it('refuses a SHA-1 mismatch: error names expected and actual, nothing cached, no temp file', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET } });
    const wrong = 'f'.repeat(40);
    const err = await h.newCache().fetch(wrong, srv.url('/d')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_SHA1_MISMATCH, exitDescription: 'failed to start' });
    expect((err as Error).message).toContain(`expected ${wrong}`);
    expect((err as Error).message).toContain(`actual ${SHA1}`);
    await h.expectNothingLeft();
  });

  it('refuses a SHA-1 that is not 40 lowercase hex digits before touching any path', async () => {
    const file = await writeTgz(h.root, 'd.tgz', DROPLET);
    for (const bad of ['../../../etc', `${SHA1}/../x`, SHA1.toUpperCase(), '', 'g'.repeat(40)]) {
      await expect(h.newCache().fetch(bad, pathToFileURL(file).href)).rejects.toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    }
    expect(existsSync(h.dropletsDir)).toBe(false);
  });

  it('a corrupt droplet with a matching SHA-1 is DROPLET_CORRUPT and not cached', async () => {
    const body = truncatedGzip();
    const file = await writeTgz(h.root, 'd.tgz', body);
    await expect(h.newCache().fetch(sha1Of(body), pathToFileURL(file).href)).rejects.toMatchObject({ code: ErrorCodes.DROPLET_CORRUPT });
    await h.expectNothingLeft();
  });
});

describe('DropletCache.fetch: concurrency and cancellation', () => {
  it('10 concurrent fetches of one SHA-1 make exactly one request', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET, delayMs: 100 } });
    const cache = h.newCache();
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.fetch(SHA1, srv.url('/d'))));
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
    expect(srv.hits('/d')).toBe(1);
    expect(cache.stats().downloads).toBe(1);
  });

  it('concurrent fetches share a failure too', async () => {
    const srv = await h.serve({ '/d': { status: 500, delayMs: 50 } });
    const cache = h.newCache();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => cache.fetch(SHA1, srv.url('/d'))));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(srv.hits('/d')).toBe(1);
  });

  it('one caller aborting does not stop the download for the others', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET, delayMs: 500 } });
    const cache = h.newCache();
    const ac = new AbortController();
    const aborted = cache.fetch(SHA1, srv.url('/d'), ac.signal);
    const other = cache.fetch(SHA1, srv.url('/d'));
    // Abort while the server holds the answer back.
    await eventually(() => srv.hits('/d') === 1, 5_000, 'request received');
    ac.abort(new Error('stop requested'));
    await expect(aborted).rejects.toThrow('stop requested');
    await expect(other).resolves.toMatchObject({ sha1: SHA1 });
    expect(srv.hits('/d')).toBe(1);
  });

  it('when every caller aborts, the download stops and nothing is cached', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET, stallAfter: 10 } });
    const cache = h.newCache();
    const ac = new AbortController();
    const p = cache.fetch(SHA1, srv.url('/d'), ac.signal);
    // Abort mid-download: the answer has begun (the temp file is open) and then stalls.
    await eventually(async () => (await h.tempFiles()).length === 1, 5_000, 'download under way');
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    await eventually(() => srv.aborted() === 1, 5_000, 'the server to see the download dropped');
    await eventually(async () => (await h.tempFiles()).length === 0, 5_000, 'the temp file to go');
    await h.expectNothingLeft();
  });
});

describe('DropletCache.fetch: hostile droplets are never cached', () => {
  for (const [name, build] of Object.entries(HOSTILE_FIXTURES)) {
    it(name, async () => {
      const dest = path.join(h.root, 'instance');
      const outside = path.join(h.root, 'outside');
      await mkdir(outside);
      const fixture = build({ dest, outside, victim: path.join(h.root, 'victim.txt'), token: token() });
      const body = tgzBuffer(fixture.entries);
      const srv = await h.serve({ '/d': { body } });
      await expect(h.newCache().fetch(sha1Of(body), srv.url('/d'))).rejects.toMatchObject({
        code: ErrorCodes.DROPLET_UNSAFE,
        message: expect.stringMatching(fixture.reason),
      });
      await h.expectNothingLeft();
      for (const p of fixture.mustNotExist) expect(existsSync(p), p).toBe(false);
      expect(await readdir(outside)).toEqual([]);
    });
  }
});

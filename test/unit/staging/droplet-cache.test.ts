import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import { silentLogger } from '../../../src/platform/logger.js';
import { DropletCache, scrubUri } from '../../../src/staging/droplet-cache.js';
import { HOSTILE_FIXTURES, sha1Of, tgzBuffer, truncatedGzip, validDroplet } from '../../support/tarballs.js';
import { capturingLogger, closedPort, freshDir, startServer, token, writeTgz, type Route, type TestServer } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
let dropletsDir: string;
let tmpDir: string;
let server: TestServer | undefined;

const DROPLET = validDroplet();
const SHA1 = sha1Of(DROPLET);

beforeEach(async () => {
  ({ root, cleanup } = await freshDir());
  dropletsDir = path.join(root, 'droplets');
  tmpDir = path.join(root, 'tmp');
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await cleanup();
});

function newCache(extra: Partial<ConstructorParameters<typeof DropletCache>[0]> = {}): DropletCache {
  return new DropletCache({ dropletsDir, tmpDir, logger: silentLogger(), ...extra });
}

async function serve(routes: Record<string, Route>): Promise<TestServer> {
  server = await startServer(routes);
  return server;
}

/** Nothing cached, nothing half-written. */
async function expectNothingLeft(): Promise<void> {
  expect(await readdir(dropletsDir)).toEqual([]);
  expect(await readdir(tmpDir)).toEqual([]);
}

describe('DropletCache.fetch over HTTP', () => {
  it('downloads, verifies and stores the droplet (dir 0755, file 0644), then serves it from the cache', async () => {
    const srv = await serve({ '/d': { body: DROPLET } });
    const cache = newCache();
    const first = await cache.fetch(SHA1, srv.url('/d'));
    expect(first).toEqual({ sha1: SHA1, path: path.join(dropletsDir, SHA1, 'droplet.tgz') });
    expect(await readFile(first.path)).toEqual(DROPLET);
    expect((await stat(first.path)).mode & 0o777).toBe(0o644);
    expect((await stat(path.dirname(first.path))).mode & 0o777).toBe(0o755);

    const second = await cache.fetch(SHA1, srv.url('/d'));
    expect(second).toEqual(first);
    expect(srv.hits('/d')).toBe(1);
    expect(cache.stats()).toEqual({ downloads: 1, hits: 1 });
    expect(await readdir(tmpDir)).toEqual([]);
  });

  it('keys the droplet by its computed SHA-1 when none is given', async () => {
    const srv = await serve({ '/d': { body: DROPLET } });
    const cache = newCache();
    expect((await cache.fetch(null, srv.url('/d'))).sha1).toBe(SHA1);
    await cache.fetch(SHA1, srv.url('/d'));
    expect(srv.hits('/d')).toBe(1);
  });

  it('refuses a SHA-1 mismatch: error names expected and actual, nothing cached, no temp file', async () => {
    const srv = await serve({ '/d': { body: DROPLET } });
    const wrong = 'f'.repeat(40);
    const err = await newCache().fetch(wrong, srv.url('/d')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_SHA1_MISMATCH, exitDescription: 'failed to start' });
    expect((err as Error).message).toContain(`expected ${wrong}`);
    expect((err as Error).message).toContain(`actual ${SHA1}`);
    await expectNothingLeft();
  });

  it('fails on HTTP 404 with the status in the message', async () => {
    const srv = await serve({});
    const err = await newCache().fetch(SHA1, srv.url('/missing')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    expect((err as Error).message).toMatch(/HTTP status: 404/);
    await expectNothingLeft();
  });

  it('fails on any status but 200, even a 2xx with the right body', async () => {
    const srv = await serve({ '/d': { status: 203, body: DROPLET } });
    await expect(newCache().fetch(SHA1, srv.url('/d'))).rejects.toThrow(/HTTP status: 203/);
  });

  it('fails when the server is unreachable', async () => {
    const port = await closedPort();
    const err = await newCache().fetch(SHA1, `http://127.0.0.1:${port}/d`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    await expectNothingLeft();
  });

  it('times out a server that sends headers and then stalls', async () => {
    const srv = await serve({ '/d': { body: DROPLET, stallAfter: 100 } });
    const started = Date.now();
    const err = await newCache({ inactivityTimeoutMs: 200 }).fetch(SHA1, srv.url('/d')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    expect((err as Error).message).toMatch(/timeout/);
    expect(Date.now() - started).toBeLessThan(5000);
    await expectNothingLeft();
  });

  it('times out a server that never answers', async () => {
    const srv = await serve({ '/d': { silent: true } });
    await expect(newCache({ inactivityTimeoutMs: 200 }).fetch(SHA1, srv.url('/d'))).rejects.toThrow(/timeout/);
    await expectNothingLeft();
  });

  it('a slow server that keeps sending is not timed out', async () => {
    const srv = await serve({ '/d': { body: DROPLET, delayMs: 150 } });
    await expect(newCache({ inactivityTimeoutMs: 400 }).fetch(SHA1, srv.url('/d'))).resolves.toMatchObject({ sha1: SHA1 });
  });

  it('sends Basic credentials given in the URI, on same-origin redirects too, never across origins', async () => {
    const srv = await serve({ '/blob': { body: DROPLET, auth: 'cc:s3cret' }, '/r': { status: 302, headers: { location: '/blob' } } });
    await expect(newCache().fetch(SHA1, srv.url('/blob', 'cc:s3cret'))).resolves.toMatchObject({ sha1: SHA1 });
    await expect(newCache({ dropletsDir: path.join(root, 'd2') }).fetch(SHA1, srv.url('/r', 'cc:s3cret'))).resolves.toMatchObject({ sha1: SHA1 });
  });

  it('drops the credentials on a redirect to another origin', async () => {
    const routes: Record<string, Route> = { '/blob': { body: DROPLET, auth: 'cc:s3cret' } };
    const srv = await serve(routes);
    // localhost is another origin than 127.0.0.1, though it is the same server.
    routes['/r'] = { status: 302, headers: { location: `http://localhost:${new URL(srv.url('/')).port}/blob` } };
    await expect(newCache().fetch(SHA1, srv.url('/r', 'cc:s3cret'))).rejects.toThrow(/HTTP status: 401/);
    expect(srv.hits('/blob')).toBe(1);
  });

  it('follows a redirect to the blob', async () => {
    const srv = await serve({ '/blob': { body: DROPLET }, '/r': { status: 302, headers: { location: '/blob?sig=x' } } });
    await expect(newCache().fetch(SHA1, srv.url('/r'))).resolves.toMatchObject({ sha1: SHA1 });
    expect(srv.hits('/blob')).toBe(1);
  });

  it('scrubs credentials and query strings from errors and logs', async () => {
    const srv = await serve({});
    const { logger, lines } = capturingLogger();
    const uri = `${srv.url('/missing', 'admin:hunter2')}?signature=SIGNED123`;
    const err = await newCache({ logger }).fetch(SHA1, uri).catch((e: unknown) => e);
    const text = `${(err as Error).message}\n${lines.join('')}`;
    expect(text).not.toMatch(/hunter2|admin|SIGNED123|signature/);
    expect((err as Error).message).toContain(`http://***@127.0.0.1:`);
  });
});

describe('DropletCache.fetch: concurrency and cancellation', () => {
  it('10 concurrent fetches of one SHA-1 make exactly one request', async () => {
    const srv = await serve({ '/d': { body: DROPLET, delayMs: 100 } });
    const cache = newCache();
    const results = await Promise.all(Array.from({ length: 10 }, () => cache.fetch(SHA1, srv.url('/d'))));
    expect(new Set(results.map((r) => r.path)).size).toBe(1);
    expect(srv.hits('/d')).toBe(1);
    expect(cache.stats().downloads).toBe(1);
  });

  it('concurrent fetches share a failure too', async () => {
    const srv = await serve({ '/d': { status: 500, delayMs: 50 } });
    const cache = newCache();
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => cache.fetch(SHA1, srv.url('/d'))));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(srv.hits('/d')).toBe(1);
  });

  it('one caller aborting does not stop the download for the others', async () => {
    const srv = await serve({ '/d': { body: DROPLET, delayMs: 500 } });
    const cache = newCache();
    const ac = new AbortController();
    const aborted = cache.fetch(SHA1, srv.url('/d'), ac.signal);
    const other = cache.fetch(SHA1, srv.url('/d'));
    // Abort while the server holds the answer back, however slow this machine is today.
    while (srv.hits('/d') === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort(new Error('stop requested'));
    await expect(aborted).rejects.toThrow('stop requested');
    await expect(other).resolves.toMatchObject({ sha1: SHA1 });
    expect(srv.hits('/d')).toBe(1);
  });

  it('when every caller aborts, the download stops and nothing is cached', async () => {
    const srv = await serve({ '/d': { body: DROPLET, stallAfter: 10 } });
    const cache = newCache();
    const ac = new AbortController();
    const p = cache.fetch(SHA1, srv.url('/d'), ac.signal);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.aborted()).toBe(1);
    await expectNothingLeft();
  });
});

describe('DropletCache.fetch: sources and inputs', () => {
  it('file:// works', async () => {
    const file = await writeTgz(root, 'd.tgz', DROPLET);
    const cache = newCache();
    const cached = await cache.fetch(SHA1, pathToFileURL(file).href);
    expect(await readFile(cached.path)).toEqual(DROPLET);
  });

  it('file:// of something that is not a regular file (a FIFO, /dev/zero) fails at once', async () => {
    const fifo = path.join(root, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(newCache().fetch(SHA1, pathToFileURL(fifo).href)).rejects.toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    await expect(newCache().fetch(SHA1, 'file:///dev/zero')).rejects.toThrow(/not a regular file/);
  });

  it('refuses other schemes', async () => {
    await expect(newCache().fetch(SHA1, 'ftp://example.com/d.tgz')).rejects.toMatchObject({
      code: ErrorCodes.DROPLET_DOWNLOAD_FAILED,
      message: expect.stringMatching(/unsupported scheme ftp:/),
    });
    await expect(newCache().fetch(SHA1, 'not a uri')).rejects.toThrow(/invalid URI/);
  });

  it('refuses a SHA-1 that is not 40 lowercase hex digits before touching any path', async () => {
    const file = await writeTgz(root, 'd.tgz', DROPLET);
    for (const bad of ['../../../etc', `${SHA1}/../x`, SHA1.toUpperCase(), '', 'g'.repeat(40)]) {
      await expect(newCache().fetch(bad, pathToFileURL(file).href)).rejects.toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    }
    expect(existsSync(dropletsDir)).toBe(false);
  });

  it('refuses a droplet bigger than maxBytes', async () => {
    const file = await writeTgz(root, 'd.tgz', DROPLET);
    await expect(newCache({ maxBytes: 100 }).fetch(SHA1, pathToFileURL(file).href)).rejects.toThrow(/larger than 100 bytes/);
    await expectNothingLeft();
  });

  it('a corrupt droplet with a matching SHA-1 is DROPLET_CORRUPT and not cached', async () => {
    const body = truncatedGzip();
    const file = await writeTgz(root, 'd.tgz', body);
    await expect(newCache().fetch(sha1Of(body), pathToFileURL(file).href)).rejects.toMatchObject({ code: ErrorCodes.DROPLET_CORRUPT });
    await expectNothingLeft();
  });
});

describe('DropletCache.fetch: hostile droplets are never cached', () => {
  for (const [name, build] of Object.entries(HOSTILE_FIXTURES)) {
    it(name, async () => {
      const dest = path.join(root, 'instance');
      const outside = path.join(root, 'outside');
      await mkdir(outside);
      const fixture = build({ dest, outside, victim: path.join(root, 'victim.txt'), token: token() });
      const body = tgzBuffer(fixture.entries);
      const srv = await serve({ '/d': { body } });
      await expect(newCache().fetch(sha1Of(body), srv.url('/d'))).rejects.toMatchObject({
        code: ErrorCodes.DROPLET_UNSAFE,
        message: expect.stringMatching(fixture.reason),
      });
      await expectNothingLeft();
      for (const p of fixture.mustNotExist) expect(existsSync(p), p).toBe(false);
      expect(await readdir(outside)).toEqual([]);
    });
  }
});

describe('DropletCache: restart and reaping', () => {
  async function seedTwo(): Promise<{ cache: DropletCache; a: string; b: string }> {
    const other = validDroplet({ startup: 'other' });
    const cache = newCache();
    const a = (await cache.fetch(null, pathToFileURL(await writeTgz(root, 'a.tgz', DROPLET)).href)).sha1;
    const b = (await cache.fetch(null, pathToFileURL(await writeTgz(root, 'b.tgz', other)).href)).sha1;
    return { cache, a, b };
  }

  it('reap removes only droplets not in use and returns their SHA-1s', async () => {
    const { cache, a, b } = await seedTwo();
    expect(await cache.reap(new Set([a]))).toEqual([b]);
    expect(await readdir(dropletsDir)).toEqual([a]);
    expect(cache.list()).toEqual([a]);
    expect(await cache.reap(new Set([a]))).toEqual([]);
    expect(await cache.reap(new Set())).toEqual([a]);
    expect(await readdir(dropletsDir)).toEqual([]);
  });

  it('a reaped droplet is downloaded again when needed', async () => {
    const srv = await serve({ '/d': { body: DROPLET } });
    const cache = newCache();
    await cache.fetch(SHA1, srv.url('/d'));
    await cache.reap(new Set());
    await cache.fetch(SHA1, srv.url('/d'));
    expect(srv.hits('/d')).toBe(2);
  });

  it('droplets survive a restart: a new cache on the same dir serves them without downloading', async () => {
    const { a } = await seedTwo();
    const port = await closedPort();
    const restarted = newCache();
    await restarted.init();
    expect(restarted.list().sort()).toEqual((await readdir(dropletsDir)).sort());
    await expect(restarted.fetch(a, `http://127.0.0.1:${port}/never`)).resolves.toMatchObject({ sha1: a });
    expect(restarted.stats()).toEqual({ downloads: 0, hits: 1 });
  });

  it('a restarted cache can reap droplets it has only seen on disk', async () => {
    const { a, b } = await seedTwo();
    expect((await newCache().reap(new Set([b]))).sort()).toEqual([a]);
    expect(await readdir(dropletsDir)).toEqual([b]);
  });

  it('init clears what an interrupted run left behind', async () => {
    const { a } = await seedTwo();
    const partial = 'b'.repeat(40);
    await mkdir(path.join(dropletsDir, partial));
    await mkdir(path.join(dropletsDir, `${a}.deleted.123-1`));
    await writeFile(path.join(tmpDir, 'droplet-1-1-abcd.tgz.part'), 'half');
    await writeFile(path.join(tmpDir, 'someone-elses-file'), 'keep');
    const restarted = newCache();
    await restarted.init();
    expect(restarted.has(partial)).toBe(false);
    expect((await readdir(dropletsDir)).filter((n) => n.includes('.deleted.') || n === partial)).toEqual([]);
    expect(await readdir(tmpDir)).toEqual(['someone-elses-file']);
  });

  it('a cached file deleted behind the cache is downloaded again', async () => {
    const srv = await serve({ '/d': { body: DROPLET } });
    const cache = newCache();
    const cached = await cache.fetch(SHA1, srv.url('/d'));
    await rm(path.dirname(cached.path), { recursive: true });
    await cache.fetch(SHA1, srv.url('/d'));
    expect(srv.hits('/d')).toBe(2);
  });
});

describe('scrubUri', () => {
  it('hides credentials and drops query and fragment', () => {
    expect(scrubUri('https://user:pass@blobs.example.com/droplets/x.tgz?X-Amz-Signature=abc#frag')).toBe('https://***@blobs.example.com/droplets/x.tgz');
    expect(scrubUri('http://host:8080/a')).toBe('http://host:8080/a');
    expect(scrubUri('file:///var/d.tgz')).toBe('file:///var/d.tgz');
    expect(scrubUri('::not a uri')).toBe('<invalid uri>');
  });
});

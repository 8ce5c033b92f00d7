import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import { DROPLET, SHA1, useCacheHarness } from './cache-harness.js';
import { capturingLogger, closedPort, writeTgz, type Route } from './helpers.js';

const h = useCacheHarness();

describe('DropletCache.fetch: downloading over HTTP', () => {
  it('fails on HTTP 404 with the status in the message', async () => {
    const srv = await h.serve({});
    const err = await h.newCache().fetch(SHA1, srv.url('/missing')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    expect((err as Error).message).toMatch(/HTTP status: 404/);
    await h.expectNothingLeft();
  });

  it('fails on any status but 200, even a 2xx with the right body', async () => {
    const srv = await h.serve({ '/d': { status: 203, body: DROPLET } });
    await expect(h.newCache().fetch(SHA1, srv.url('/d'))).rejects.toThrow(/HTTP status: 203/);
  });

  it('fails when the server is unreachable', async () => {
    const port = await closedPort();
    const err = await h.newCache().fetch(SHA1, `http://127.0.0.1:${port}/d`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
    await h.expectNothingLeft();
  });

  it('times out a server that sends headers and then stalls', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET, stallAfter: 100 } });
    const started = Date.now();
    const err = await h.newCache({ inactivityTimeoutMs: 200 }).fetch(SHA1, srv.url('/d')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    expect((err as Error).message).toMatch(/timeout/);
    expect(Date.now() - started).toBeLessThan(5000);
    await h.expectNothingLeft();
  });

  it('times out a server that never answers', async () => {
    const srv = await h.serve({ '/d': { silent: true } });
    await expect(h.newCache({ inactivityTimeoutMs: 200 }).fetch(SHA1, srv.url('/d'))).rejects.toThrow(/timeout/);
    await h.expectNothingLeft();
  });

  it('a slow server that keeps sending is not timed out', async () => {
    const srv = await h.serve({ '/d': { body: DROPLET, delayMs: 150 } });
    await expect(h.newCache({ inactivityTimeoutMs: 400 }).fetch(SHA1, srv.url('/d'))).resolves.toMatchObject({ sha1: SHA1 });
  });

  it('sends Basic credentials given in the URI, on same-origin redirects too, never across origins', async () => {
    const srv = await h.serve({ '/blob': { body: DROPLET, auth: 'cc:s3cret' }, '/r': { status: 302, headers: { location: '/blob' } } });
    await expect(h.newCache().fetch(SHA1, srv.url('/blob', 'cc:s3cret'))).resolves.toMatchObject({ sha1: SHA1 });
    await expect(h.newCache({ dropletsDir: path.join(h.root, 'd2') }).fetch(SHA1, srv.url('/r', 'cc:s3cret'))).resolves.toMatchObject({ sha1: SHA1 });
  });

  it('drops the credentials on a redirect to another origin', async () => {
    const routes: Record<string, Route> = { '/blob': { body: DROPLET, auth: 'cc:s3cret' } };
    const srv = await h.serve(routes);
    // localhost is another origin than 127.0.0.1, though it is the same server.
    routes['/r'] = { status: 302, headers: { location: `http://localhost:${new URL(srv.url('/')).port}/blob` } };
    await expect(h.newCache().fetch(SHA1, srv.url('/r', 'cc:s3cret'))).rejects.toThrow(/HTTP status: 401/);
    expect(srv.hits('/blob')).toBe(1);
  });

  it('follows a redirect to the blob', async () => {
    const srv = await h.serve({ '/blob': { body: DROPLET }, '/r': { status: 302, headers: { location: '/blob?sig=x' } } });
    await expect(h.newCache().fetch(SHA1, srv.url('/r'))).resolves.toMatchObject({ sha1: SHA1 });
    expect(srv.hits('/blob')).toBe(1);
  });

  it('scrubs credentials and query strings from errors and logs', async () => {
    const srv = await h.serve({});
    const { logger, lines } = capturingLogger();
    const uri = `${srv.url('/missing', 'admin:hunter2')}?signature=SIGNED123`;
    const err = await h.newCache({ logger }).fetch(SHA1, uri).catch((e: unknown) => e);
    const text = `${(err as Error).message}\n${lines.join('')}`;
    expect(text).not.toMatch(/hunter2|admin|SIGNED123|signature/);
    expect((err as Error).message).toContain(`http://***@127.0.0.1:`);
  });
});

describe('DropletCache.fetch: other sources', () => {
  it('file:// works', async () => {
    const file = await writeTgz(h.root, 'd.tgz', DROPLET);
    const cached = await h.newCache().fetch(SHA1, pathToFileURL(file).href);
    expect(await readFile(cached.path)).toEqual(DROPLET);
  });

  it('file:// of something that is not a regular file (a FIFO, /dev/zero) fails at once', async () => {
    const fifo = path.join(h.root, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(h.newCache().fetch(SHA1, pathToFileURL(fifo).href)).rejects.toMatchObject({ code: ErrorCodes.DROPLET_DOWNLOAD_FAILED });
    await expect(h.newCache().fetch(SHA1, 'file:///dev/zero')).rejects.toThrow(/not a regular file/);
  });

  it('refuses other schemes', async () => {
    await expect(h.newCache().fetch(SHA1, 'ftp://example.com/d.tgz')).rejects.toMatchObject({
      code: ErrorCodes.DROPLET_DOWNLOAD_FAILED,
      message: expect.stringMatching(/unsupported scheme ftp:/),
    });
    await expect(h.newCache().fetch(SHA1, 'not a uri')).rejects.toThrow(/invalid URI/);
  });

  it('refuses a droplet bigger than maxBytes', async () => {
    const file = await writeTgz(h.root, 'd.tgz', DROPLET);
    await expect(h.newCache({ maxBytes: 100 }).fetch(SHA1, pathToFileURL(file).href)).rejects.toThrow(/larger than 100 bytes/);
    await h.expectNothingLeft();
  });
});

/**
 * The directory routes inside a real status server on loopback, over real files, with the
 * signer on a virtual clock (expiry without waiting an hour). The agent-level test
 * (test/integration/directory) covers the same through bin/dea and nats-server.
 */
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryRoutes, type DirectoryRoutes } from '../../../src/directory/routes.js';
import type { ServedInstance } from '../../../src/directory/roots.js';
import { createUrlSigner, URL_VALIDITY_MS } from '../../../src/directory/signer.js';
import { serverBase, signedFileUri } from '../../../src/directory/urls.js';
import type { InstanceState } from '../../../src/instance/types.js';
import { createLogger } from '../../../src/platform/logger.js';
import { Layout } from '../../../src/staging/layout.js';
import { startStatusServer, type StatusServer } from '../../../src/status/server.js';
import { get, stream } from '../../support/directory/http.js';
import { eventually } from '../../support/eventually.js';
import { VirtualClock } from '../../support/virtual-clock.js';

const RUN = 'a'.repeat(32);
const CRASH = 'c'.repeat(32);
const BORN = 'b'.repeat(32);
const UNKNOWN = 'd'.repeat(32);

let top: string;
let layout: Layout;
let server: StatusServer;
let routes: DirectoryRoutes;
let base: string;
const clock = new VirtualClock(1_767_225_600_000);
const signer = createUrlSigner({ secret: Buffer.alloc(64, 3), now: () => clock.now() });
const instances = new Map<string, { instanceId: string; localId: string; state: InstanceState }>();

function served(id: string, state: InstanceState): ServedInstance {
  const inst = { instanceId: id, localId: id, state };
  instances.set(id, inst);
  return inst;
}

const url = (id: string, path: string | null) => signedFileUri(signer, base, id, path);

beforeAll(async () => {
  top = mkdtempSync(join(tmpdir(), 'dea-dir-server-'));
  layout = new Layout(join(top, 'base'));
  await layout.ensure();
  const run = layout.instanceDir(RUN);
  mkdirSync(join(run, 'logs'), { recursive: true });
  mkdirSync(join(run, 'app'));
  writeFileSync(join(run, 'logs', 'stdout.log'), 'line one\nline two\n');
  writeFileSync(join(run, 'app', 'data.bin'), Buffer.from('0123456789'));
  writeFileSync(join(top, 'secret.txt'), 'host secret');
  symlinkSync(join(top, 'secret.txt'), join(run, 'app', 'out'));
  mkdirSync(join(layout.crashDir(CRASH), 'logs'), { recursive: true });
  writeFileSync(join(layout.crashDir(CRASH), 'logs', 'stderr.log'), 'it died\n');
  served(RUN, 'RUNNING');
  served(CRASH, 'CRASHED');
  served(BORN, 'STARTING');
  routes = directoryRoutes({ signer, instances, layout, logger: createLogger({ level: 'silent', file: null }), tailPollMs: 20 });
  server = await startStatusServer({ host: '127.0.0.1', port: 0, user: 'u', password: 'p' }, { varz: () => ({}), directory: routes });
  base = serverBase('127.0.0.1', server.port);
});

afterAll(async () => {
  await server?.close();
  rmSync(top, { recursive: true, force: true });
});

describe('directory routes in the status server', () => {
  it('serves a file of a running instance without Basic auth; the rest still needs it', async () => {
    const r = await get(url(RUN, '/logs/stdout.log'));
    expect(r).toMatchObject({ status: 200, body: 'line one\nline two\n' });
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect((await get(`${base}/varz`)).status).toBe(401);
  });

  it('lists a directory as text (the default) and as JSON', async () => {
    const text = await get(url(RUN, null));
    expect(text.status).toBe(200);
    expect(text.body).toBe(`${'app/'.padEnd(35)}${'-'.padStart(10)}\n${'logs/'.padEnd(35)}${'-'.padStart(10)}\n`);
    const json = await get(url(RUN, '/logs'), { Accept: 'application/json' });
    expect(JSON.parse(json.body)).toMatchObject({ path: '/logs', entries: [{ name: 'stdout.log', type: 'file', size: 18 }] });
    const viaQuery = await get(`${url(RUN, 'app')}&format=json`);
    expect(JSON.parse(viaQuery.body).entries.map((e: { name: string; type: string }) => [e.name, e.type])).toEqual([
      ['data.bin', 'file'],
      ['out', 'symlink'],
    ]);
  });

  it('honours Range: 206 with Content-Range, 416 past the end', async () => {
    const part = await get(url(RUN, 'app/data.bin'), { Range: 'bytes=2-5' });
    expect(part).toMatchObject({ status: 206, body: '2345' });
    expect(part.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await get(url(RUN, 'app/data.bin'), { Range: 'bytes=-3' })).toMatchObject({ status: 206, body: '789' });
    const over = await get(url(RUN, 'app/data.bin'), { Range: 'bytes=10-' });
    expect(over.status).toBe(416);
    expect(over.headers.get('content-range')).toBe('bytes */10');
  });

  it('serves a crashed instance from its crash record', async () => {
    expect(await get(url(CRASH, 'logs/stderr.log'))).toMatchObject({ status: 200, body: 'it died\n' });
  });

  it('401 for a missing or wrong HMAC', async () => {
    const good = new URL(url(RUN, 'logs/stdout.log'));
    expect(await get(`${base}/instance_paths/${RUN}?path=logs%2Fstdout.log`)).toMatchObject({ status: 401, body: '{"error":"Invalid HMAC"}\n' });
    good.searchParams.set('hmac', '0'.repeat(128));
    expect((await get(good.toString())).status).toBe(401);
    const other = new URL(url(RUN, 'logs'));
    other.searchParams.set('path', 'app');
    expect((await get(other.toString())).status).toBe(401);
  });

  it('400 once the URL is an hour old', async () => {
    const u = url(RUN, 'logs/stdout.log');
    await clock.advance(URL_VALIDITY_MS + 1000);
    expect(await get(u)).toMatchObject({ status: 400, body: '{"error":"Url expired"}\n' });
    // A URL signed now works again (later tests sign afresh too).
    expect((await get(url(RUN, 'logs/stdout.log'))).status).toBe(200);
  });

  it('404 for an unknown instance or file, 503 for an instance not running nor crashed', async () => {
    expect(await get(url(UNKNOWN, '/'))).toMatchObject({ status: 404, body: '{"error":"Unknown instance"}\n' });
    expect(await get(url(RUN, 'logs/none.log'))).toMatchObject({ status: 404, body: '{"error":"Entity not found"}\n' });
    expect((await get(url(BORN, '/'))).status).toBe(503);
  });

  it('403 for traversal, encoded traversal, NUL and a link out; an absolute path stays inside', async () => {
    for (const p of ['../../../secret.txt', 'logs/../../x', '%2e%2e/%2e%2e', '%252e%252e/x', 'logs\0', 'app/out']) {
      expect(await get(url(RUN, p)), p).toMatchObject({ status: 403, body: '{"error":"Not accessible"}\n' });
    }
    // `..` sent raw in the URL path: not the signed resource, so not a valid signature.
    const q = new URL(url(RUN, '/')).search;
    expect((await get(`${base}/instance_paths/${RUN}/..${q}`)).status).toBe(401);
    expect((await get(url(RUN, '/etc/passwd'))).status).toBe(404);
  });

  it('tails a log: appended bytes, after an in-place truncation, and after the file is replaced', async () => {
    const log = join(layout.instanceDir(RUN), 'logs', 'tail.log');
    writeFileSync(log, 'old\n');
    const t = stream(`${url(RUN, 'logs/tail.log')}&tail`);
    try {
      await eventually(() => t.status() === 200, 5000, 'tail headers');
      appendFileSync(log, 'first\n');
      await eventually(() => t.body() === 'first\n', 5000, 'first appended line');
      // Rotation as the agent does it: copied aside, truncated in place, then written on.
      truncateSync(log, 0);
      appendFileSync(log, 'after truncate\n');
      await eventually(() => t.body() === 'first\nafter truncate\n', 5000, 'line after truncation');
      // Another file under the same name.
      writeFileSync(`${log}.new`, 'replaced\n');
      renameSync(`${log}.new`, log);
      await eventually(() => t.body().endsWith('after truncate\nreplaced\n'), 5000, 'replacement followed');
      expect(t.ended()).toBe(false);
    } finally {
      t.close();
    }
  });

  it('tails from tail_offset, and ends the stream when the instance stops being served', async () => {
    const t = stream(`${url(RUN, 'logs/stdout.log')}&tail&tail_offset=5`);
    try {
      await eventually(() => t.body() === 'one\nline two\n', 5000, 'from offset 5');
      instances.get(RUN)!.state = 'STOPPING';
      await eventually(() => t.ended(), 5000, 'stream ended');
    } finally {
      instances.get(RUN)!.state = 'RUNNING';
      t.close();
    }
  });

  it('ends every tail when the server closes', async () => {
    const t = stream(`${url(CRASH, 'logs/stderr.log')}&tail`);
    try {
      await eventually(() => t.status() === 200, 5000, 'tail headers');
      routes.close();
      await eventually(() => t.ended(), 5000, 'tail ended by close');
    } finally {
      t.close();
    }
  });
});

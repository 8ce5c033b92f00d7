/**
 * The directory server through a real agent (bin/dea) and a real nats-server: signed
 * URLs from `dea.find.droplet` with `path`, listings, files, Range, `?tail` of a log the
 * app keeps writing, a crashed instance's logs, and every refusal a client can provoke
 * with a URL the agent signed (traversal, encoded traversal, links a hostile app made,
 * an instance that is gone) or tampered with. Expiry is tested with a virtual clock in
 * test/unit/directory/server.test.ts: the agent's clock cannot be moved an hour here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import type { Recorder } from '../../support/bus-client.js';
import { get, stream } from '../../support/directory/http.js';
import { eventually } from '../../support/eventually.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

const URI = /^http:\/\/127\.0\.0\.1:(\d+)\/instance_paths\/([0-9a-f]{32})\?hmac=[0-9a-f]{128}&path=([^&]*)&timestamp=(\d+)$/;

/**
 * A hostile app: it writes a numbered line to stdout every 100 ms, and before serving it
 * plants links that lead out of its directory (an absolute one to a host file, a
 * relative one up the tree). Its start command runs in app/ (a v2 droplet).
 */
const HOSTILE_START = [
  'ln -s /etc/hostname ../logs/host-link',
  'ln -s ../.. ../up',
  'ln -s /home/vcap/app ../abs-app',
  '{ (i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.1; done) & }',
  'exec node server.js',
].join('; ');

let s: AgentSuite;
let registered: Recorder;
let exited: Recorder;

beforeAll(async () => {
  s = await agentSuite();
  registered = s.bus.record('router.register');
  exited = s.bus.record('droplet.exited');
  await s.bus.flush();
  await s.start('serves-http-v2', 'dir-writer', { start_command: HOSTILE_START });
  await registered.waitFor((m) => m.data.app === 'dir-writer', 20_000);
});

afterAll(async () => s?.close());

/** The signed URL of `path` in the one instance of `app` (the request's `path` key as given). */
async function uriOf(app: string, path: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const replies = await s.find({ droplet: app, path, ...extra });
  expect(replies).toHaveLength(1);
  const uri = replies[0].file_uri_v2;
  expect(uri).toMatch(URI);
  return uri as string;
}

describe('file_uri_v2 in dea.find.droplet replies', () => {
  it('is there only when the request has a path key, signed for that instance and path', async () => {
    const [plain] = await s.find({ droplet: 'dir-writer' });
    expect(plain).not.toHaveProperty('file_uri_v2');
    const uri = await uriOf('dir-writer', 'logs/stdout.log');
    const [, port, instance, path, timestamp] = URI.exec(uri)!;
    expect(instance).toBe(plain.instance);
    expect(decodeURIComponent(path!)).toBe('logs/stdout.log');
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    // The status server's port: the one vcap.component.discover names.
    const [component] = await s.bus.request('vcap.component.discover', {}, { expect: 1 });
    expect(component.host).toBe(`127.0.0.1:${port}`);
  });
});

describe('serving a running instance', () => {
  it('serves a file through the signed URL, without Basic auth', async () => {
    const uri = await uriOf('dir-writer', 'logs/stdout.log');
    const r = await eventually(async () => {
      const got = await get(uri);
      return got.body.includes('tick 1\n') ? got : false;
    }, 15_000, 'two lines in stdout.log');
    expect(r.status).toBe(200);
    expect(r.body.startsWith('tick 0\n')).toBe(true);
  });

  it('lists the root (null path) as text and as JSON', async () => {
    const uri = await uriOf('dir-writer', null);
    const text = await get(uri);
    expect(text.status).toBe(200);
    expect(text.body).toMatch(/^app\/ {31} {9}-$/m);
    expect(text.body).toMatch(/^logs\/ {30} {9}-$/m);
    const json = await get(uri, { Accept: 'application/json' });
    const names = JSON.parse(json.body).entries.map((e: { name: string; type: string }) => `${e.name}:${e.type}`);
    expect(names).toEqual(expect.arrayContaining(['app:directory', 'logs:directory', 'up:symlink']));
  });

  it('answers a Range with 206 and one past the end with 416', async () => {
    const uri = await uriOf('dir-writer', '/app/server.js');
    const whole = await get(uri);
    expect(whole.status).toBe(200);
    const part = await get(uri, { Range: 'bytes=0-12' });
    expect(part.status).toBe(206);
    expect(part.body).toBe(whole.body.slice(0, 13));
    expect(part.headers.get('content-range')).toBe(`bytes 0-12/${Buffer.byteLength(whole.body)}`);
    const past = await get(uri, { Range: `bytes=${Buffer.byteLength(whole.body)}-` });
    expect(past.status).toBe(416);
  });

  it('?tail follows the log the app keeps writing, until the client hangs up', async () => {
    const uri = await uriOf('dir-writer', 'logs/stdout.log');
    const t = stream(`${uri}&tail`);
    let firstSeen: number;
    try {
      // From the end: the first line streamed is a new one; then several more follow.
      const first = await eventually(() => /tick (\d+)\n/.exec(t.body()) ?? false, 15_000, 'a first appended line');
      firstSeen = Number(first[1]);
      await eventually(() => t.body().includes(`tick ${firstSeen + 3}\n`), 15_000, 'three more lines');
      // From the end of the file, not its start.
      expect(t.body()).not.toMatch(/^tick 0$/m);
      expect(t.ended()).toBe(false);
    } finally {
      t.close();
    }
    await s.agent.waitForLog((l) => l.event === 'directory.tail.ended' && l.why === 'client gone', 15_000);
  });
});

describe('refusals', () => {
  it('401 for a signature that does not match (HMAC changed, path changed, none at all)', async () => {
    const uri = new URL(await uriOf('dir-writer', 'logs/stdout.log'));
    const wrong = new URL(uri);
    wrong.searchParams.set('hmac', 'f'.repeat(128));
    expect(await get(wrong.toString())).toMatchObject({ status: 401, body: '{"error":"Invalid HMAC"}\n' });
    const otherPath = new URL(uri);
    otherPath.searchParams.set('path', '/app/server.js');
    expect((await get(otherPath.toString())).status).toBe(401);
    expect((await get(`${uri.origin}${uri.pathname}?path=%2F`)).status).toBe(401);
    await s.agent.waitForLog((l) => l.event === 'directory.request.refused' && l.status === 401);
  });

  it('403 for traversal and encoded traversal, even in URLs the agent signed', async () => {
    for (const path of ['../../..', 'logs/../../../etc/hostname', '%2e%2e/%2e%2e/etc/hostname', 'logs/%252e%252e/%252e%252e']) {
      expect(await get(await uriOf('dir-writer', path)), path).toMatchObject({ status: 403, body: '{"error":"Not accessible"}\n' });
    }
  });

  it('403 for the links the hostile app planted, 404 for a host path it does not have', async () => {
    for (const path of ['logs/host-link', 'up', 'up/', 'abs-app/server.js']) {
      expect(await get(await uriOf('dir-writer', path)), path).toMatchObject({ status: 403 });
    }
    // An absolute path counts from the instance's directory: no etc/ there.
    expect(await get(await uriOf('dir-writer', '/etc/hostname'))).toMatchObject({ status: 404, body: '{"error":"Entity not found"}\n' });
  });

  it('404 for an instance that is gone: a stopped instance\'s URL', async () => {
    await s.start('serves-http', 'dir-short');
    await registered.waitFor((m) => m.data.app === 'dir-short', 20_000);
    const uri = await uriOf('dir-short', 'logs');
    expect((await get(uri)).status).toBe(200);
    const [{ instance }] = await s.find({ droplet: 'dir-short' });
    s.bus.publish('dea.stop', { droplet: 'dir-short' });
    await s.agent.waitForLog((l) => l.event === 'instance.stopped' && l.instance_id === instance, 20_000);
    expect(await get(uri)).toMatchObject({ status: 404, body: '{"error":"Unknown instance"}\n' });
  });
});

describe('a crashed instance', () => {
  it('keeps its logs readable through the directory server', async () => {
    await s.start('crash-on-start', 'dir-crash');
    await exited.waitFor((m) => m.data.droplet === 'dir-crash', 20_000);
    const uri = await uriOf('dir-crash', 'logs', { states: ['CRASHED'] });
    // The crash record is moved into place just after the state changes: wait for it.
    const listing = await eventually(async () => {
      const r = await get(`${uri}&format=json`);
      return r.status === 200 ? r : false;
    }, 15_000, 'crash record served');
    const names = JSON.parse(listing.body).entries.map((e: { name: string }) => e.name);
    expect(names).toEqual(expect.arrayContaining(['stdout.log', 'stderr.log']));
    expect(await get(await uriOf('dir-crash', 'logs/stderr.log'))).toMatchObject({ status: 200, body: expect.stringContaining('crashing\n') });
    expect(await get(await uriOf('dir-crash', 'logs/stdout.log'))).toMatchObject({ status: 200, body: expect.stringContaining('crash-on-start starting') });
  });
});

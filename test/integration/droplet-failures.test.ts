/**
 * Droplet downloads that fail, against the real agent and a real nats-server (protocol
 * §4.6, §5.3, §6.5): a SHA-1 mismatch, HTTP errors, an unreachable or vanishing
 * server and corrupt archives each end the start as CRASHED `failed to start` with one
 * `droplet.exited`, and leave nothing in the droplet cache or its temp dir. A slow
 * download keeps the instance STARTING until it completes; simultaneous starts of one
 * droplet share one download; an unknown stack fails before any download.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMessage, type AgentHandle, type AgentLogLine } from '../support/agent-process.js';
import { connectTestClient, type Recorder, type TestBusClient } from '../support/bus-client.js';
import { removeTree, tearDown } from '../support/cleanup.js';
import { buildDroplet, serveDroplets, type BuiltDroplet, type DropletServer } from '../support/droplets.js';
import { eventually } from '../support/eventually.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { roundTrip } from '../support/round-trip.js';
import { CORRUPT_FIXTURES, sha1Of } from '../support/tarballs.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

let root: string;
let nats: NatsServerHandle;
let bus: TestBusClient;
let agent: AgentHandle;
let files: DropletServer;
let servedDir: string;
let web: BuiltDroplet;
let heartbeats: Recorder;
let exited: Recorder;
let registered: Recorder;
/** SHA-1s of droplets that were meant to be cached (successful starts). */
const goodSha1s = new Set<string>();
/** Instance ids of every failed start in this file. */
const failedInstances: string[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'dea-droplet-failures-'));
  chmodSync(root, 0o755); // apps run as an unprivileged user and must reach base_dir
  const baseDir = join(root, 'base');
  mkdirSync(baseDir);
  servedDir = join(root, 'served');
  web = await buildDroplet('serves-http', servedDir);
  copyFileSync(web.path, join(servedDir, 'stack.tgz'));
  files = await serveDroplets(servedDir);
  nats = await startNatsServer();
  bus = await connectTestClient(nats.url);
  heartbeats = bus.record('dea.heartbeat');
  exited = bus.record('droplet.exited');
  registered = bus.record('router.register');
  await bus.flush();
  agent = await startAgent({ natsUrl: nats.url, baseDir });
});

afterAll(() =>
  tearDown(
    { agent, bus, files, nats },
    removeTree(root),
  ),
);

const startSubject = (): string => `dea.${agent.id}.start`;

function baseEntries(sub: string): string[] {
  return readdirSync(join(agent.baseDir, sub));
}

/** A fresh heartbeat, asked for with `healthmanager.start`. */
async function heartbeat(): Promise<any> {
  const seen = heartbeats.all().length;
  bus.publish('healthmanager.start', {});
  const msg = await heartbeats.waitFor((m) => heartbeats.all().indexOf(m) >= seen && m.data.dea === agent.id, 15_000);
  return msg.data;
}

/**
 * A SHA-1 no droplet of this file has: a start naming it must download, whichever test
 * cached what before it.
 */
function neverCached(label: string): string {
  return sha1Of(Buffer.from(`never cached: ${label}`));
}

function failureLog(instanceId: string): AgentLogLine | undefined {
  return agent.logs().find((l) => l.event === 'instance.start.failed' && l.instance_id === instanceId);
}

/**
 * What every failed start must show: exactly one droplet.exited (CRASHED, `failed to
 * start`, -1, an integer crash_timestamp) for the right app, index and instance; the
 * heartbeat and dea.find.droplet report it CRASHED; the reason is logged with `code`; the
 * cache holds only the droplets of successful starts and its temp dir is empty.
 */
async function expectFailedStart(droplet: string, index: number, code: string, why?: RegExp): Promise<string> {
  const msg = await exited.waitFor((m) => m.data.droplet === droplet, 15_000);
  expect(msg.data).toEqual({
    cc_partition: 'default',
    droplet,
    version: 'v1',
    instance: expect.stringMatching(/^[0-9a-f]{32}$/),
    index,
    reason: 'CRASHED',
    exit_status: -1,
    exit_description: 'failed to start',
    crash_timestamp: expect.any(Number),
  });
  expect(Number.isInteger(msg.data.crash_timestamp)).toBe(true);
  expect(Math.abs(msg.data.crash_timestamp - Date.now() / 1000)).toBeLessThan(120);
  const instance: string = msg.data.instance;
  failedInstances.push(instance);

  const hb = await heartbeat();
  expect(hb.droplets.filter((d: any) => d.droplet === droplet)).toEqual([
    expect.objectContaining({ droplet, instance, index, state: 'CRASHED', version: 'v1' }),
  ]);
  const found = await bus.request('dea.find.droplet', { droplet }, { expect: 1 });
  expect(found).toEqual([expect.objectContaining({ droplet, instance, index, state: 'CRASHED' })]);
  // The heartbeat round trip came after the crash: a second exit would be out by now.
  expect(exited.filter((m) => m.data.droplet === droplet)).toHaveLength(1);

  const line = await agent.waitForLog((l) => l.event === 'instance.start.failed' && l.instance_id === instance, 15_000);
  expect(line.code).toBe(code);
  if (why) expect(String(line.err)).toMatch(why);

  expectCacheClean();
  expect(existsSync(join(agent.baseDir, 'instances', instance))).toBe(false);
  return instance;
}

/** Only whole, verified droplets of successful starts are cached; no temp file is left. */
function expectCacheClean(): void {
  const dir = join(agent.baseDir, 'droplets');
  for (const name of readdirSync(dir)) {
    expect(goodSha1s.has(name), `unexpected entry droplets/${name}`).toBe(true);
    // the droplet, and the tree its instances' overlay views share once one has started
    expect(readdirSync(join(dir, name)).filter((n) => n !== 'lower')).toEqual(['droplet.tgz']);
    expect(sha1Of(readFileSync(join(dir, name, 'droplet.tgz')))).toBe(name);
  }
  expect(baseEntries('tmp')).toEqual([]);
}

interface GatedServer {
  readonly url: string;
  requests(): number;
  /** Resolves once a response has sent its headers and the first half of the body. */
  readonly halfSent: Promise<void>;
  /** Lets held responses send the rest. */
  release(): void;
  close(): Promise<void>;
}

/**
 * Serves `body` for any GET: headers (with the full Content-Length) and half the bytes,
 * then either waits for release() and sends the rest (`hold`), or drops the connection
 * (`cut`).
 */
async function gatedServer(body: Buffer, mode: 'hold' | 'cut'): Promise<GatedServer> {
  let count = 0;
  let onHalf!: () => void;
  const halfSent = new Promise<void>((r) => (onHalf = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const half = Math.floor(body.length / 2);
  const server = http.createServer((req, res) => {
    count++;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.write(body.subarray(0, half), () => {
      onHalf();
      if (mode === 'cut') {
        res.destroy();
        return;
      }
      void released.then(() => res.end(body.subarray(half)));
    });
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/droplet.tgz`,
    requests: () => count,
    halfSent,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        release();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('download failures', () => {
  it('SHA-1 mismatch: CRASHED, neither the expected nor the actual SHA-1 is cached', async () => {
    const other = await buildDroplet('serves-http', servedDir, { fileName: 'mismatch.tgz', extraFiles: { VARIANT: 'mismatch' } });
    const expected = sha1Of(Buffer.from('not the droplet that is served'));
    bus.publish(startSubject(), startMessage({ droplet: 'app-sha1', index: 2, executableUri: files.url(other.path), sha1: expected }));
    await expectFailedStart('app-sha1', 2, 'DEA_DROPLET_SHA1_MISMATCH', /SHA1 mismatch/);
    expect(files.requests(other.path)).toBeGreaterThanOrEqual(1);
    expect(baseEntries('droplets')).not.toContain(expected);
    expect(baseEntries('droplets')).not.toContain(other.sha1);
  });

  it('HTTP 404: CRASHED, nothing cached', async () => {
    bus.publish(startSubject(), startMessage({ droplet: 'app-404', index: 1, executableUri: files.url('missing.tgz'), sha1: sha1Of(Buffer.from('missing')) }));
    await expectFailedStart('app-404', 1, 'DEA_DROPLET_DOWNLOAD_FAILED', /HTTP status: 404/);
    expect(files.requests('missing.tgz')).toBeGreaterThanOrEqual(1);
  });

  it('unreachable URL (nothing listens on the port): CRASHED, nothing cached', async () => {
    // Not a port from getFreePort(): on a busy machine another process may take that one
    // meanwhile, accept, and hold the download for the agent's 30 s inactivity timeout.
    // The kernel never hands out a port below 1024 for a random bind.
    const port = 9;
    bus.publish(startSubject(), startMessage({ droplet: 'app-refused', index: 0, executableUri: `http://127.0.0.1:${port}/droplet.tgz`, sha1: neverCached('refused') }));
    await expectFailedStart('app-refused', 0, 'DEA_DROPLET_DOWNLOAD_FAILED', /ECONNREFUSED/);
  });

  it('a file:// URI naming no file: CRASHED, nothing cached', async () => {
    const missing = join(root, 'no-such-droplet.tgz');
    bus.publish(startSubject(), startMessage({ droplet: 'app-nofile', index: 0, executableUri: `file://${missing}`, sha1: neverCached('nofile') }));
    await expectFailedStart('app-nofile', 0, 'DEA_DROPLET_DOWNLOAD_FAILED', /ENOENT/);
  });

  it('the server drops the connection halfway through the body: CRASHED, no partial file kept', async () => {
    // Bytes of their own: with web's SHA-1 a start after a valid one would use the cache.
    const body = Buffer.concat([readFileSync(web.path), Buffer.from('cut')]);
    const server = await gatedServer(body, 'cut');
    try {
      bus.publish(startSubject(), startMessage({ droplet: 'app-cut', index: 0, executableUri: server.url, sha1: sha1Of(body) }));
      await expectFailedStart('app-cut', 0, 'DEA_DROPLET_DOWNLOAD_FAILED');
      expect(server.requests()).toBeGreaterThanOrEqual(1);
    } finally {
      await server.close();
    }
  });

  const CORRUPT: ReadonlyArray<keyof typeof CORRUPT_FIXTURES> = [
    'corrupt-gzip-truncated',
    'corrupt-gzip-not-tar',
    'corrupt-random-bytes',
    'corrupt-not-gzip',
    'corrupt-bad-checksum',
    'corrupt-empty-file',
  ];

  it.each(CORRUPT)('%s (served with its true SHA-1): CRASHED, not cached', async (name) => {
    const bytes = CORRUPT_FIXTURES[name]();
    writeFileSync(join(servedDir, `${name}.tgz`), bytes);
    const droplet = `app-${name}`;
    bus.publish(startSubject(), startMessage({ droplet, index: 0, executableUri: files.url(`${name}.tgz`), sha1: sha1Of(bytes) }));
    await expectFailedStart(droplet, 0, 'DEA_DROPLET_CORRUPT');
    expect(files.requests(`${name}.tgz`)).toBeGreaterThanOrEqual(1);
    expect(baseEntries('droplets')).not.toContain(sha1Of(bytes));
  });

  it('an unknown stack: CRASHED "failed to start" before any download', async () => {
    bus.publish(startSubject(), startMessage({ droplet: 'app-stack', index: 0, stack: 'windows2012', executableUri: files.url('stack.tgz'), sha1: web.sha1 }));
    await expectFailedStart('app-stack', 0, 'DEA_STACK_UNKNOWN', /windows2012/);
    expect(files.requests('stack.tgz')).toBe(0);
  });

  it('after all that, a valid start still runs', async () => {
    bus.publish(startSubject(), startMessage({ droplet: 'app-after', executableUri: files.url(web.path), sha1: web.sha1 }));
    goodSha1s.add(web.sha1);
    const reg = await registered.waitFor((m) => m.data.app === 'app-after', 15_000);
    expect(reg.data).toMatchObject({ dea: agent.id, app: 'app-after' });
    expect(exited.filter((m) => m.data.droplet === 'app-after')).toEqual([]);
    expectCacheClean();
    expect(baseEntries('droplets')).toContain(web.sha1);
  });
});

describe('slow and shared downloads', () => {
  it('a download that stalls halfway keeps the instance STARTING, then it runs once the bytes come', async () => {
    const slow = await buildDroplet('serves-http', join(root, 'slow'), { extraFiles: { VARIANT: 'slow' } });
    const server = await gatedServer(readFileSync(slow.path), 'hold');
    try {
      bus.publish(startSubject(), startMessage({ droplet: 'app-slow', executableUri: server.url, sha1: slow.sha1 }));
      await server.halfSent;
      const [found] = await bus.request('dea.find.droplet', { droplet: 'app-slow' }, { expect: 1 });
      expect(found).toMatchObject({ droplet: 'app-slow', state: 'STARTING' });
      const hb = await heartbeat();
      expect(hb.droplets).toEqual(expect.arrayContaining([expect.objectContaining({ droplet: 'app-slow', instance: found.instance, state: 'STARTING' })]));
      // Nothing reaches the cache before it is whole and verified.
      expect(baseEntries('droplets')).not.toContain(slow.sha1);

      goodSha1s.add(slow.sha1);
      server.release();
      const reg = await registered.waitFor((m) => m.data.app === 'app-slow', 15_000);
      expect(reg.data).toMatchObject({ dea: agent.id, app: 'app-slow' });
      const [after] = await bus.request('dea.find.droplet', { droplet: 'app-slow' }, { expect: 1 });
      expect(after).toMatchObject({ instance: found.instance, state: 'RUNNING' });
      expect(server.requests()).toBe(1);
      expect(exited.filter((m) => m.data.droplet === 'app-slow')).toEqual([]);
      expectCacheClean();
    } finally {
      await server.close();
    }
  });

  it('five simultaneous starts of one uncached droplet: one HTTP request, five RUNNING', async () => {
    const storm = await buildDroplet('serves-http', join(root, 'storm'), { extraFiles: { VARIANT: 'storm' } });
    expect(baseEntries('droplets')).not.toContain(storm.sha1);
    const server = await gatedServer(readFileSync(storm.path), 'hold');
    try {
      for (let index = 0; index < 5; index++) {
        bus.publish(startSubject(), startMessage({ droplet: 'app-storm', index, executableUri: server.url, sha1: storm.sha1 }));
      }
      // Hold the one download until all five instances are STARTING and waiting for it.
      await server.halfSent;
      await eventually(
        () => agent.logs().filter((l) => l.event === 'instance.starting' && l.app_id === 'app-storm').length === 5 || false,
        10_000,
        'five instances STARTING',
      );
      const starting = await bus.request('dea.find.droplet', { droplet: 'app-storm' }, { expect: 5 });
      expect(starting.map((f: any) => f.state)).toEqual(Array(5).fill('STARTING'));

      goodSha1s.add(storm.sha1);
      server.release();
      const regs = await registered.waitForCount(5, (m) => m.data.app === 'app-storm', 20_000);
      expect(new Set(regs.map((m) => m.data.port)).size).toBe(5);
      const running = await bus.request('dea.find.droplet', { droplet: 'app-storm' }, { expect: 5 });
      expect(running.map((f: any) => f.state)).toEqual(Array(5).fill('RUNNING'));
      expect(running.map((f: any) => f.index).sort()).toEqual([0, 1, 2, 3, 4]);
      expect(server.requests()).toBe(1);
      expect(exited.filter((m) => m.data.droplet === 'app-storm')).toEqual([]);
      expectCacheClean();
    } finally {
      await server.close();
    }
  });
});

describe('afterwards', () => {
  it('every failed start so far published exactly one droplet.exited, and nothing else published one', async () => {
    // A failure of its own, so that the claim never rests on the other tests having run.
    bus.publish(startSubject(), startMessage({ droplet: 'app-last', index: 0, executableUri: files.url('last-missing.tgz'), sha1: sha1Of(Buffer.from('last')) }));
    const own = await expectFailedStart('app-last', 0, 'DEA_DROPLET_DOWNLOAD_FAILED', /HTTP status: 404/);
    expect(failedInstances).toContain(own);
    // After a round trip, every exit the agent published so far is here, repeats included.
    await roundTrip(bus, agent.id);
    for (const instance of failedInstances) {
      expect(exited.filter((m) => m.data.instance === instance)).toHaveLength(1);
    }
    const crashed = exited.all().map((m) => m.data.instance);
    expect(crashed.sort()).toEqual([...failedInstances].sort());
  });
});

/**
 * Bad input on the bus, against the real agent and a real nats-server (protocol
 * §3.1, §5.2): every malformed message is logged with its subject (never its
 * credentials) and dropped — no instance, no reservation, nothing on disk — and the agent
 * keeps serving. Starts the agent cannot honour (not enough memory or disk) are born
 * CRASHED with dea_ng's descriptions and download nothing.
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMessage, type AgentHandle, type AgentLogLine } from '../support/agent-process.js';
import { connectTestClient, type Recorder, type TestBusClient } from '../support/bus-client.js';
import { tearDown } from '../support/cleanup.js';
import { buildDroplet, serveDroplets, type BuiltDroplet, type DropletServer } from '../support/droplets.js';
import { eventually } from '../support/eventually.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { requestAll, roundTrip } from '../support/round-trip.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

const MEMORY_MB = 256;
const DISK_MB = 16384;
const SECRET = 'hunter2-secret';

let nats: NatsServerHandle;
let bus: TestBusClient;
let agent: AgentHandle;
let files: DropletServer;
let web: BuiltDroplet;
let dropletDir: string;
let adverts: Recorder;
let heartbeats: Recorder;
let exited: Recorder;
let registered: Recorder;
let unregistered: Recorder;

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectTestClient(nats.url);
  dropletDir = mkdtempSync(join(tmpdir(), 'dea-bad-input-droplets-'));
  web = await buildDroplet('serves-http', dropletDir);
  // Same bytes under another name, so the refused starts' request count is their own.
  copyFileSync(web.path, join(dropletDir, 'refused.tgz'));
  files = await serveDroplets(dropletDir);
  adverts = bus.record('dea.advertise');
  heartbeats = bus.record('dea.heartbeat');
  exited = bus.record('droplet.exited');
  registered = bus.record('router.register');
  unregistered = bus.record('router.unregister');
  await bus.flush();
  agent = await startAgent({ natsUrl: nats.url, config: { resources: { memory_mb: MEMORY_MB, disk_mb: DISK_MB } } });
});

afterAll(() =>
  tearDown(
    { agent, bus, files, nats },
    dropletDir === undefined ? undefined : () => rmSync(dropletDir, { recursive: true, force: true }),
  ),
);

const startSubject = (): string => `dea.${agent.id}.start`;

const isInvalid = (subject: string) => (l: AgentLogLine) => l.event === 'bus.message.invalid' && l.subject === subject;

/**
 * Publishes one payload and returns the agent's `bus.message.invalid` line for it: the
 * agent handles a subject's messages in order, so it is the next such line.
 */
async function publishInvalid(subject: string, payload: unknown, opts?: { reply?: string }): Promise<AgentLogLine> {
  const before = agent.logs().filter(isInvalid(subject)).length;
  bus.publish(subject, payload, opts);
  return eventually(() => agent.logs().filter(isInvalid(subject))[before] ?? false, 15_000, `bus.message.invalid on ${subject}`);
}

/** A fresh `dea.advertise`, asked for with `dea.locate`. */
async function advertise(): Promise<any> {
  const seen = adverts.all().length;
  bus.publish('dea.locate', {});
  const msg = await adverts.waitFor((m) => adverts.all().indexOf(m) >= seen && m.data.id === agent.id, 15_000);
  return msg.data;
}

/** A fresh heartbeat, asked for with `healthmanager.start`. */
async function heartbeat(): Promise<any> {
  const seen = heartbeats.all().length;
  bus.publish('healthmanager.start', {});
  const msg = await heartbeats.waitFor((m) => heartbeats.all().indexOf(m) >= seen && m.data.dea === agent.id, 15_000);
  return msg.data;
}

function baseEntries(sub: string): string[] {
  return readdirSync(join(agent.baseDir, sub));
}

/** Every `dea.find.droplet` reply of the agent for `droplet` (none is an answer too). */
function find(droplet: string): Promise<any[]> {
  return requestAll(bus, agent.id, 'dea.find.droplet', { droplet });
}

/** Starts `droplet` (serves-http) unless it already runs; resolves with its registration. */
async function running(droplet: string): Promise<any> {
  const runs = (await find(droplet)).some((f) => f.state === 'RUNNING');
  if (!runs) bus.publish(startSubject(), valid(droplet));
  return (await registered.waitFor((m) => m.data.app === droplet, 15_000)).data;
}

/** What the agent holds and has done, to compare before and after a batch of bad input. */
async function footprint(): Promise<Record<string, unknown>> {
  const hb = await heartbeat();
  const ad = await advertise();
  const [status] = await bus.request('dea.status', {}, { expect: 1 });
  return {
    heartbeat: hb.droplets,
    available_memory: ad.available_memory,
    available_disk: ad.available_disk,
    app_id_to_count: ad.app_id_to_count,
    reserved_memory: status.reserved_memory,
    instances: baseEntries('instances'),
    crashes: baseEntries('crashes'),
    droplets: baseEntries('droplets'),
    tmp: baseEntries('tmp'),
    downloads: files.totalRequests(),
    exits: exited.all().length,
    // (counts of routes would change with the periodic re-registration of running apps)
  };
}

function valid(droplet: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return startMessage({ droplet, executableUri: files.url(web.path), sha1: web.sha1, ...over });
}

/**
 * A start message for the table below, built at load time: it names a droplet nobody
 * serves, so a start that slipped through would crash (and show) rather than run.
 */
function bad(droplet: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return startMessage({ droplet, executableUri: 'http://127.0.0.1:9/never.tgz', sha1: '0'.repeat(40), ...over });
}

const credentialedService = { name: 'db', label: 'postgres', plan: 'small', credentials: { username: 'admin', password: SECRET } };

/** [case, payload, the droplet id it names (for dea.find.droplet), a problem it must report] */
const BAD_STARTS: ReadonlyArray<readonly [string, unknown, string | null, RegExp]> = [
  ['invalid JSON', '{"droplet": "bad-json", "limits": {', 'bad-json', /not valid JSON/],
  ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), null, /UTF-8/],
  ['a JSON array', '[1, 2, 3]', null, /message/],
  ['a bare number', '42', null, /message/],
  ['an empty object', {}, null, /droplet: is required/],
  ['uris as a string', bad('bad-uris', { uris: 'bad-uris.example.com' }), 'bad-uris', /^uris:/],
  ['limits.mem as a string', bad('bad-mem', { limits: { mem: '128', disk: 256, fds: 1024 } }), 'bad-mem', /^limits\.mem:/],
  ['limits.mem negative', bad('bad-neg-mem', { limits: { mem: -1, disk: 256, fds: 1024 } }), 'bad-neg-mem', /^limits\.mem:/],
  ['a 100 KB name', bad('bad-name', { name: 'n'.repeat(100 * 1024) }), 'bad-name', /^name:/],
  ['a 100 KB uri', bad('bad-long-uri', { uris: [`${'u'.repeat(100 * 1024)}.example.com`] }), 'bad-long-uri', /^uris\.0:/],
  ['a droplet id with "/"', bad('app/../../etc'), null, /^droplet:/],
  ['a droplet id ".."', bad('..'), null, /^droplet:/],
  ['a version with "/"', bad('bad-version', { version: '../../v1' }), 'bad-version', /^version:/],
  ['an index as a string', bad('bad-index', { index: '0' }), 'bad-index', /^index:/],
  ['a non-hex sha1', bad('bad-sha1', { sha1: '../../../../etc/passwd' }), 'bad-sha1', /^sha1:/],
  ['an ftp: droplet URI', bad('bad-scheme', { executableUri: 'ftp://127.0.0.1/droplet.tgz' }), 'bad-scheme', /^executableUri:/],
  ['services as an object', bad('bad-services', { services: credentialedService }), 'bad-services', /^services:/],
  [
    'credentials in an otherwise invalid start',
    bad('bad-secret', { services: [credentialedService], env: [`DB_PASSWORD=${SECRET}`], limits: { mem: 'lots', disk: 256, fds: 1024 } }),
    'bad-secret',
    /^limits\.mem:/,
  ],
  [
    'credentials in a service binding that is itself invalid',
    bad('bad-service', { services: [{ name: 'db', credentials: { password: SECRET } }] }),
    'bad-service',
    /^services\.0\.label:/,
  ],
];

describe('malformed dea.<id>.start messages', () => {
  it.each(BAD_STARTS)('%s: logged as bus.message.invalid with its subject, then dropped', async (_name, payload, droplet, problem) => {
    const line = await publishInvalid(startSubject(), payload);
    expect(line.level).toBe('warn');
    expect(line.subject).toBe(startSubject());
    expect(line.problems).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
    if (droplet !== null) expect(await find(droplet)).toEqual([]);
  });

  it('all of them together create no instance, reserve nothing and write nothing', async () => {
    const before = await footprint();
    for (const [, payload] of BAD_STARTS) await publishInvalid(startSubject(), payload);
    // The footprint's heartbeat and advert are round trips after the last bad start.
    expect(await footprint()).toEqual(before);
    const named = new Set(BAD_STARTS.map(([, , droplet]) => droplet).filter((d) => d !== null));
    for (const droplet of named) expect(await find(droplet)).toEqual([]);
    expect(registered.filter((m) => named.has(m.data.app))).toEqual([]);
  });

  it('never logs the credentials of a message it refuses', async () => {
    const withSecrets = BAD_STARTS.filter(([, payload]) => JSON.stringify(payload ?? null).includes(SECRET));
    expect(withSecrets.length).toBeGreaterThan(0);
    for (const [, payload] of withSecrets) await publishInvalid(startSubject(), payload);
    await roundTrip(bus, agent.id);
    const leaking = agent.logs().filter((l) => JSON.stringify(l).includes(SECRET));
    expect(leaking).toEqual([]);
  });

  it('still starts a valid droplet afterwards', async () => {
    // 64 MB: with app-ok (128) and app-fits (64) it still fits in 256, whatever ran before.
    bus.publish(startSubject(), valid('app-valid', { limits: { mem: 64, disk: 256, fds: 1024 } }));
    const reg = await registered.waitFor((m) => m.data.app === 'app-valid', 15_000);
    expect(reg.data).toMatchObject({ dea: agent.id, app: 'app-valid', uris: ['app-valid.example.com'] });
    const found = await find('app-valid');
    expect(found).toEqual([expect.objectContaining({ droplet: 'app-valid', state: 'RUNNING' })]);
    expect(exited.filter((m) => m.data.droplet === 'app-valid')).toEqual([]);
    // Its memory is for the tests below.
    bus.publish('dea.stop', { droplet: 'app-valid' });
    await agent.waitForLog((l) => l.event === 'instance.stopped' && l.app_id === 'app-valid', 15_000);
  });
});

describe('malformed dea.stop, dea.update and dea.find.droplet messages', () => {
  // Every case names this running app, so a lenient parser would act on it.
  let target: any;
  beforeAll(async () => {
    target = await running('app-ok');
  });

  const CASES: ReadonlyArray<readonly [string, string, unknown, RegExp]> = [
    ['dea.stop', 'invalid JSON', '{"droplet": "app-ok"', /not valid JSON/],
    ['dea.stop', 'no droplet', { indices: [0] }, /^droplet: is required/],
    ['dea.stop', 'instances as a string', { droplet: 'app-ok', instances: 'all' }, /^instances:/],
    ['dea.stop', 'a negative index', { droplet: 'app-ok', indices: [-1] }, /^indices\.0:/],
    ['dea.stop', 'an unknown state name', { droplet: 'app-ok', states: ['SLEEPING'] }, /^states\.0: unknown state/],
    ['dea.update', 'invalid JSON', 'app-ok new.example.com', /not valid JSON/],
    ['dea.update', 'uris as a string', { droplet: 'app-ok', uris: 'new.example.com' }, /^uris:/],
    ['dea.update', 'no uris', { droplet: 'app-ok' }, /^uris: is required/],
    ['dea.update', 'a version with "/"', { droplet: 'app-ok', uris: ['new.example.com'], version: 'a/b' }, /^version:/],
    ['dea.find.droplet', 'invalid JSON', '{droplet: app-ok}', /not valid JSON/],
    ['dea.find.droplet', 'an unknown state name', { droplet: 'app-ok', states: ['SLEEPING'] }, /^states\.0: unknown state/],
    ['dea.find.droplet', 'include_stats as a string', { droplet: 'app-ok', include_stats: 'yes' }, /^include_stats:/],
  ];

  it.each(CASES)('%s with %s: logged as bus.message.invalid with its subject, nothing done', async (subject, _name, payload, problem) => {
    const inbox = `_INBOX.bad-input.${Math.random().toString(16).slice(2)}`;
    const replies = bus.record(inbox);
    await replies.ready();
    const line = await publishInvalid(subject, payload, { reply: inbox });
    expect(line.level).toBe('warn');
    expect(line.subject).toBe(subject);
    expect(line.problems).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
    // A round trip through the agent: anything it meant to send for the bad message is out.
    await heartbeat();
    expect(replies.all()).toEqual([]);
    replies.stop();
  });

  it('all of them together leave the running instance alone: still RUNNING, routes unchanged', async () => {
    const [before] = await find('app-ok');
    const unregisteredBefore = unregistered.all().length;
    for (const [subject, , payload] of CASES) await publishInvalid(subject, payload);
    await roundTrip(bus, agent.id);
    const after = await find('app-ok');
    expect(after).toEqual([expect.objectContaining({ droplet: 'app-ok', state: 'RUNNING', index: 0, instance: before.instance })]);
    expect(unregistered.all().slice(unregisteredBefore)).toEqual([]);
    expect(registered.filter((m) => JSON.stringify(m.data.uris).includes('new.example.com'))).toEqual([]);
    const res = await fetch(`http://127.0.0.1:${target.port}/`);
    expect(res.status).toBe(200);
    expect(exited.filter((m) => m.data.droplet === 'app-ok')).toEqual([]);
  });
});

describe('starts that do not fit (resources.memory_mb: 256)', () => {
  const exitOf = (droplet: string) => exited.waitFor((m) => m.data.droplet === droplet, 15_000);

  it('memory: born CRASHED with "Not enough memory resource available.", nothing downloaded', async () => {
    const before = await advertise();
    bus.publish(startSubject(), startMessage({ droplet: 'app-big-mem', index: 2, executableUri: files.url('refused.tgz'), sha1: web.sha1, limits: { mem: 512, disk: 256, fds: 1024 } }));
    const msg = await exitOf('app-big-mem');
    expect(msg.data).toMatchObject({
      droplet: 'app-big-mem',
      index: 2,
      version: 'v1',
      cc_partition: 'default',
      reason: 'CRASHED',
      exit_status: -1,
      exit_description: 'Not enough memory resource available.',
    });
    expect(msg.data.instance).toMatch(/^[0-9a-f]{32}$/);
    expect(Number.isInteger(msg.data.crash_timestamp)).toBe(true);
    const hb = await heartbeat();
    expect(hb.droplets).toEqual(expect.arrayContaining([expect.objectContaining({ droplet: 'app-big-mem', instance: msg.data.instance, index: 2, state: 'CRASHED' })]));
    const after = await advertise();
    expect(after.available_memory).toBe(before.available_memory);
    expect(exited.filter((m) => m.data.droplet === 'app-big-mem')).toHaveLength(1);
    expect(files.requests('refused.tgz')).toBe(0);
  });

  it('disk: born CRASHED with "Not enough disk resource available.", nothing downloaded, nothing held', async () => {
    const before = await advertise();
    const instancesBefore = baseEntries('instances');
    bus.publish(startSubject(), startMessage({ droplet: 'app-big-disk', index: 1, executableUri: files.url('refused.tgz'), sha1: web.sha1, limits: { mem: 64, disk: DISK_MB + 1, fds: 1024 } }));
    const msg = await exitOf('app-big-disk');
    expect(msg.data).toMatchObject({
      droplet: 'app-big-disk',
      index: 1,
      reason: 'CRASHED',
      exit_status: -1,
      exit_description: 'Not enough disk resource available.',
    });
    expect(Number.isInteger(msg.data.crash_timestamp)).toBe(true);
    const hb = await heartbeat();
    expect(hb.droplets).toEqual(expect.arrayContaining([expect.objectContaining({ droplet: 'app-big-disk', instance: msg.data.instance, state: 'CRASHED' })]));
    // A refused start never had a directory: it must not keep the disk it was refused.
    const after = await advertise();
    expect(after.available_memory).toBe(before.available_memory);
    expect(after.available_disk).toBe(before.available_disk);
    expect(exited.filter((m) => m.data.droplet === 'app-big-disk')).toHaveLength(1);
    expect(files.requests('refused.tgz')).toBe(0);
    expect(baseEntries('instances')).toEqual(instancesBefore);
  });

  it('both: disk is named first, as dea_ng does', async () => {
    bus.publish(startSubject(), startMessage({ droplet: 'app-big-both', executableUri: files.url('refused.tgz'), sha1: web.sha1, limits: { mem: 4096, disk: DISK_MB * 2, fds: 1024 } }));
    const msg = await exitOf('app-big-both');
    expect(msg.data).toMatchObject({ reason: 'CRASHED', exit_description: 'Not enough disk resource available.' });
    expect(files.requests('refused.tgz')).toBe(0);
  });

  it('a start that fits still runs after the refusals', async () => {
    const before = await advertise();
    bus.publish(startSubject(), valid('app-fits', { limits: { mem: 64, disk: 256, fds: 1024 } }));
    const reg = await registered.waitFor((m) => m.data.app === 'app-fits', 15_000);
    expect(reg.data).toMatchObject({ dea: agent.id, app: 'app-fits' });
    const ad = await advertise();
    expect(ad.available_memory).toBe(before.available_memory - 64);
  });
});

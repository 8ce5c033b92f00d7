/**
 * Hostile droplets, started through the real agent over a real nats-server:
 * tar-slip members, absolute paths, symlinks and hardlinks leading out, device nodes and
 * FIFOs. Each start fails as CRASHED `failed to start`; nothing is written outside the
 * instance directory (the targets live under a fresh temp dir next to base_dir, so their
 * absence means something); the droplet is not left in the cache; the agent keeps serving.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMessage, type AgentHandle } from '../support/agent-process.js';
import { connectTestClient, type Recorder, type TestBusClient } from '../support/bus-client.js';
import { removeTree, tearDown } from '../support/cleanup.js';
import { buildDroplet, serveDroplets, type BuiltDroplet, type DropletServer } from '../support/droplets.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { roundTrip } from '../support/round-trip.js';
import { HOSTILE_FIXTURES, sha1Of, tgzBuffer, type HostileContext, type HostileFixture } from '../support/tarballs.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

const VICTIM_CONTENT = 'the original victim\n';
const HOSTNAME = '/etc/hostname';

let root: string;
let baseDir: string;
let servedDir: string;
let ctx: HostileContext;
let nats: NatsServerHandle;
let bus: TestBusClient;
let agent: AgentHandle;
let files: DropletServer;
let web: BuiltDroplet;
let exited: Recorder;
let registered: Recorder;
let hostnameBefore: { content: string; nlink: number } | null = null;

beforeAll(async () => {
  // root/
  //   base/       the agent's base_dir; instances unpack into base/instances/<32 hex>/
  //   outside/    where escaping entries aim (must stay empty)
  //   victim.txt  what hardlinks aim at (must stay unchanged)
  //   served/     the droplet server's files
  root = mkdtempSync(join(tmpdir(), 'dea-hostile-'));
  chmodSync(root, 0o755); // apps run as an unprivileged user and must reach base_dir
  baseDir = join(root, 'base');
  mkdirSync(baseDir);
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'victim.txt'), VICTIM_CONTENT);
  servedDir = join(root, 'served');
  mkdirSync(servedDir);
  ctx = {
    // An instance directory has a random name; this stand-in has the same depth, which
    // is all that relative escapes (`../../outside`) depend on.
    dest: join(baseDir, 'instances', '0'.repeat(32)),
    outside: join(root, 'outside'),
    victim: join(root, 'victim.txt'),
    token: randomBytes(6).toString('hex'),
  };
  if (existsSync(HOSTNAME)) hostnameBefore = { content: readFileSync(HOSTNAME, 'utf8'), nlink: statSync(HOSTNAME).nlink };
  web = await buildDroplet('serves-http', servedDir);
  files = await serveDroplets(servedDir);
  nats = await startNatsServer();
  bus = await connectTestClient(nats.url);
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

/** Hostile droplets aimed squarely at root/outside, besides the shared fixtures. */
const OWN_FIXTURES: Record<string, (c: HostileContext) => HostileFixture> = {
  'tar-slip into the temp dir': (c) => {
    const target = join(c.outside, `slip-${c.token}.txt`);
    return {
      entries: [{ type: 'file', path: './startup', content: '#!/bin/bash\n', mode: 0o755 }, { type: 'file', path: path.relative(c.dest, target), content: 'pwned' }],
      mustNotExist: [target],
      reason: /\.\./,
    };
  },
  'absolute path into the temp dir': (c) => {
    const target = join(c.outside, `abs-${c.token}.txt`);
    return {
      entries: [{ type: 'file', path: './startup', content: '#!/bin/bash\n', mode: 0o755 }, { type: 'file', path: target, content: 'pwned' }],
      mustNotExist: [target],
      reason: /absolute/,
    };
  },
  'symlink to ../../outside, then a file written through it': () => ({
    entries: [
      { type: 'file', path: './startup', content: '#!/bin/bash\n', mode: 0o755 },
      { type: 'symlink', path: 'app/out', target: '../../../../outside' },
      { type: 'file', path: 'app/out/pwned.txt', content: 'pwned' },
    ],
    mustNotExist: [join(root, 'outside', 'pwned.txt')],
    reason: /outside|symlink/,
  }),
};

const CASES: ReadonlyArray<readonly [string, (c: HostileContext) => HostileFixture]> = [
  ...Object.entries(OWN_FIXTURES),
  ...Object.entries(HOSTILE_FIXTURES),
];

interface Odd {
  path: string;
  kind: string;
}

/** Every symlink, device, FIFO or socket under `dir`. */
function oddEntries(dir: string): Odd[] {
  const found: Odd[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isSymbolicLink()) found.push({ path: p, kind: 'symlink' });
      else if (st.isCharacterDevice() || st.isBlockDevice()) found.push({ path: p, kind: 'device' });
      else if (st.isFIFO()) found.push({ path: p, kind: 'fifo' });
      else if (st.isSocket()) found.push({ path: p, kind: 'socket' });
    }
  };
  if (existsSync(dir)) walk(dir);
  return found;
}

/** Nothing escaped: the outside dir is empty, the victims are untouched, no odd entries. */
function expectNothingEscaped(): void {
  expect(readdirSync(join(root, 'outside'))).toEqual([]);
  expect(readFileSync(ctx.victim, 'utf8')).toBe(VICTIM_CONTENT);
  expect(statSync(ctx.victim).nlink).toBe(1);
  expect(readdirSync(root).sort()).toEqual(['base', 'outside', 'served', 'victim.txt']);
  if (hostnameBefore) {
    expect(readFileSync(HOSTNAME, 'utf8')).toBe(hostnameBefore.content);
    expect(statSync(HOSTNAME).nlink).toBe(hostnameBefore.nlink);
  }
  for (const sub of ['instances', 'crashes', 'droplets', 'tmp']) {
    expect(oddEntries(join(baseDir, sub))).toEqual([]);
  }
  // Only instance directories (32 hex) live in instances/ and crashes/.
  for (const sub of ['instances', 'crashes']) {
    for (const name of readdirSync(join(baseDir, sub))) expect(name).toMatch(/^[0-9a-f]{32}$/);
  }
  expect(readdirSync(join(baseDir, 'tmp'))).toEqual([]);
}

describe('hostile droplets started through the agent', () => {
  it.each(CASES.map(([name, make], i) => [name, make, i] as const))(
    '%s: CRASHED "failed to start", nothing written outside, not cached',
    async (name, make, index) => {
      const fixture = make(ctx);
      const tgz = tgzBuffer(fixture.entries);
      const sha1 = sha1Of(tgz);
      const file = `hostile-${index}.tgz`;
      writeFileSync(join(servedDir, file), tgz);
      const droplet = `hostile-${index}`;

      bus.publish(`dea.${agent.id}.start`, startMessage({ droplet, index, executableUri: files.url(file), sha1 }));
      const msg = await exited.waitFor((m) => m.data.droplet === droplet, 15_000);
      expect(msg.data).toMatchObject({ droplet, index, version: 'v1', reason: 'CRASHED', exit_status: -1, exit_description: 'failed to start' });
      expect(msg.data.instance).toMatch(/^[0-9a-f]{32}$/);
      expect(Number.isInteger(msg.data.crash_timestamp)).toBe(true);
      const instance: string = msg.data.instance;

      // The agent says why, in its own words and with a stable code.
      const line = await agent.waitForLog((l) => l.event === 'instance.start.failed' && l.instance_id === instance, 15_000);
      expect(line.code, name).toBe('DEA_DROPLET_UNSAFE');
      expect(String(line.err)).toMatch(fixture.reason);
      expect(files.requests(file)).toBeGreaterThanOrEqual(1);

      for (const p of fixture.mustNotExist) expect(existsSync(p), p).toBe(false);
      expect(existsSync(join(baseDir, 'instances', instance))).toBe(false);
      expect(readdirSync(join(baseDir, 'droplets'))).not.toContain(sha1);
      expectNothingEscaped();

      const [found] = await bus.request('dea.find.droplet', { droplet }, { expect: 1 });
      expect(found).toMatchObject({ droplet, instance, state: 'CRASHED' });
      expect(exited.filter((m) => m.data.droplet === droplet)).toHaveLength(1);
    },
  );

  it('keeps serving: a valid droplet starts afterwards, and still nothing escaped', async () => {
    bus.publish(`dea.${agent.id}.start`, startMessage({ droplet: 'app-after', executableUri: files.url(web.path), sha1: web.sha1 }));
    const reg = await registered.waitFor((m) => m.data.app === 'app-after', 15_000);
    expect(reg.data).toMatchObject({ dea: agent.id, app: 'app-after' });
    const res = await fetch(`http://127.0.0.1:${reg.data.port}/`);
    expect(res.status).toBe(200);
    expect(readdirSync(join(baseDir, 'droplets'))).toEqual([web.sha1]);
    expectNothingEscaped();
    // Every exit so far (after a round trip, all of them) is one hostile start's, once each.
    await roundTrip(bus, agent.id);
    const exitedDroplets = exited.all().map((m) => String(m.data.droplet));
    for (const d of exitedDroplets) expect(d).toMatch(/^hostile-\d+$/);
    expect(new Set(exitedDroplets).size).toBe(exitedDroplets.length);
  });
});

import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEA_BIN, deaEnv, startAgent } from '../support/agent-process.js';
import { agentSuite, type AgentSuite } from '../support/agent-suite.js';
import { eventually } from '../support/eventually.js';
import { natsGate } from '../support/nats-gate.js';
import { roundTrip } from '../support/round-trip.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

const REPO = new URL('../..', import.meta.url).pathname;
/** instance.log_max_bytes of this suite's agent. */
const LOG_CAP = 4096;

/**
 * This suite checks the process backend's own semantics (host pids, the shared app user,
 * the monitor's quota messages), so it pins that backend; `auto` picks the container
 * backend here, whose counterparts live in test/integration/container/.
 */
const PROCESS_BACKEND = { backend: { kind: 'process' } };

let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({
    ...PROCESS_BACKEND,
    crash_lifetime_secs: 1,
    intervals: { heartbeat: 1, advertise: 1, router_register_in_seconds: 1 },
    instance: { stop_grace_secs: 2, log_max_bytes: LOG_CAP },
    monitor: { interval_ms: 200 },
  });
});
afterAll(async () => s?.close());

const FAST_INTERVALS = { ...PROCESS_BACKEND, intervals: { heartbeat: 1, advertise: 1, router_register_in_seconds: 1 } };

const runningOn = (agentId: string, app: string) => (m: { data: any }) =>
  m.data.dea === agentId && m.data.droplets.some((d: { droplet: string; state: string }) => d.droplet === app && d.state === 'RUNNING');

describe('what the agent tells its peers', () => {
  it('advertises, heartbeats and re-registers routes on its intervals', async () => {
    const adverts = s.bus.record('dea.advertise');
    const staging = s.bus.record('staging.advertise');
    const heartbeats = s.bus.record('dea.heartbeat');
    const reg = s.bus.record('router.register');
    await Promise.all([adverts.ready(), staging.ready(), heartbeats.ready(), reg.ready()]);
    const ad = await adverts.waitFor((m) => m.data.id === s.agent.id, 15_000);
    expect(ad.data).toEqual({
      id: s.agent.id,
      stacks: ['cflinuxfs4'],
      available_memory: expect.any(Number),
      available_disk: expect.any(Number),
      app_id_to_count: expect.any(Object),
      placement_properties: { zone: 'default' },
    });
    expect(ad.data.app_id_to_count.periodic).toBeUndefined();
    expect((await staging.waitFor((m) => m.data.id === s.agent.id, 15_000)).data).toEqual({ id: s.agent.id, stacks: [], available_memory: 0, available_disk: 0 });
    await s.start('serves-http', 'periodic');
    // The first registration comes with RUNNING; the next two only from the interval.
    await reg.waitForCount(3, (m) => m.data.app === 'periodic', 15_000);
    // Likewise one heartbeat comes with RUNNING, the second from the interval.
    await heartbeats.waitForCount(2, runningOn(s.agent.id, 'periodic'), 15_000);
    const counted = await adverts.waitFor((m) => m.data.id === s.agent.id && m.data.app_id_to_count.periodic === 1, 15_000);
    expect(counted.data.available_memory).toBeLessThanOrEqual(4096 - 128);
  });

  it('an agent without instances still heartbeats, empty, every period', async () => {
    const heartbeats = s.bus.record('dea.heartbeat');
    await heartbeats.ready();
    const idle = await s.startAgent({ config: FAST_INTERVALS });
    // Its first heartbeat comes at start; the next two only from the interval.
    const hbs = await heartbeats.waitForCount(3, (m) => m.data.dea === idle.id, 15_000);
    for (const hb of hbs) expect(hb.data).toEqual({ droplets: [], dea: idle.id });
    await idle.dispose();
  });

  it('answers dea.status, dea.locate, router.start, healthmanager.start and vcap.component.discover', async () => {
    const [status] = await s.bus.request('dea.status', {}, { expect: 1 });
    expect(status).toMatchObject({ id: s.agent.id, ip: '127.0.0.1', version: '0.0.1', max_memory: 4096, num_clients: null });
    const [disc] = await s.bus.request('vcap.component.discover', {}, { expect: 1 });
    expect(disc).toMatchObject({ type: 'DEA', index: 0, uuid: s.agent.id, credentials: ['u', 'p'] });
    expect(disc.uptime).toMatch(/^\d+d:\d+h:\d+m:\d+s$/);
    const [, port] = String(disc.host).split(':');
    const auth = `Basic ${Buffer.from('u:p').toString('base64')}`;
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(401);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { authorization: auth } });
    expect(await health.text()).toBe('ok\n');
    const varz = (await (await fetch(`http://127.0.0.1:${port}/varz`, { headers: { authorization: auth } })).json()) as Record<string, unknown>;
    expect(varz).toMatchObject({ type: 'DEA', uuid: s.agent.id, backend: 'process', apps_max_memory: 4096 });
  });

  it('keeps one crashed record per app only for crash_lifetime_secs', async () => {
    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    await s.start('crash-on-start', 'brief');
    const ex = await exits.waitFor((m) => m.data.droplet === 'brief', 15_000);
    const crashDir = join(s.agent.baseDir, 'crashes', ex.data.instance);
    const crashed = await s.agent.waitForLog((l) => l.event === 'instance.crashed' && l.instance_id === ex.data.instance, 15_000);
    const reaped = await s.agent.waitForLog((l) => l.event === 'instance.crash.reaped' && l.instance_id === ex.data.instance, 15_000);
    // Kept for the lifetime (1 s; the agent's own clock on both lines), then removed.
    expect(Date.parse(String(reaped.time)) - Date.parse(String(crashed.time))).toBeGreaterThanOrEqual(900);
    expect(existsSync(crashDir)).toBe(false);
    // The record went before the directory: every reply the agent has for the app is none.
    expect(await s.find({ droplet: 'brief' })).toEqual([]);
  });

  it('caps an instance log: the older bytes move to stdout.log.1, the live file stays small, the app writes on', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    // About 29 bytes every 10 ms: ~3 KB/s, while the monitor rotates every 200 ms.
    await s.start('worker-no-uris', 'chatty', { uris: [], env: ['HEARTBEAT_MS=10'] });
    await reg.waitFor((m) => m.data.app === 'chatty', 15_000);
    const [found] = await s.find({ droplet: 'chatty' });
    const logs = join(s.agent.baseDir, 'instances', found.instance, 'logs');
    const live = join(logs, 'stdout.log');
    const older = `${live}.1`;

    // Watch the live file until the app has written five times the cap in all (each line
    // is at least 27 bytes). Without rotation the file would hold all of it; with
    // rotation it stays near the cap: three times the cap would take the monitor
    // stalling for ~3 s.
    const beatsForFiveCaps = Math.ceil((5 * LOG_CAP) / 27);
    let largest = 0;
    const reached = await eventually(
      () => {
        const text = readText(live);
        largest = Math.max(largest, Buffer.byteLength(text));
        const n = heartbeats(text).at(-1);
        return n !== undefined && n >= beatsForFiveCaps ? n : false;
      },
      60_000,
      `heartbeat ${beatsForFiveCaps} in the live log`,
    );
    expect(largest).toBeLessThan(3 * LOG_CAP);
    expect(largest).toBeGreaterThan(0);

    // The rotated copy was the live file when it passed the cap, and holds older lines
    // than the live file. (Read in this order, a rotation in between changes nothing:
    // the live file then only holds newer lines still.)
    await eventually(() => statSync(older).size > LOG_CAP, 10_000, 'a whole rotated copy');
    const olderBeats = heartbeats(readText(older));
    const liveText = readText(live);
    const liveBeats = heartbeats(liveText);
    expect(olderBeats.length).toBeGreaterThan(0);
    expect(liveBeats.length).toBeGreaterThan(0);
    expect(Math.max(...olderBeats)).toBeLessThan(Math.min(...liveBeats));
    // Truncated in place under the app's O_APPEND descriptor: its next write lands at the
    // start, so no hole of NUL bytes opens where the old content was.
    expect(liveText.includes('\0')).toBe(false);

    // The app writes on into the truncated file.
    await eventually(() => (heartbeats(readText(live)).at(-1) ?? 0) > reached, 10_000, 'newer lines after rotation');

    s.bus.publish('dea.stop', { droplet: 'chatty' });
    await s.agent.waitForLog((l) => l.event === 'instance.stopped' && l.app_id === 'chatty', 15_000);
  });
});

/**
 * The host pid of the serves-http app on `port`, checked before a test signals it: a pid
 * the app reports from inside a pid namespace (another backend) would name some other
 * process here, and -1 would name every process.
 */
async function servesHttpPid(port: number): Promise<number> {
  const { pid } = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { pid: number };
  expect(pid).toBeGreaterThan(1);
  expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('server.js');
  expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).toContain(`PORT=${port}`);
  return pid;
}

/** A file's text, or '' while it is not there. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The numbers of the complete `worker-no-uris heartbeat <n>` lines in a log, in order. */
function heartbeats(text: string): number[] {
  return [...text.matchAll(/^worker-no-uris heartbeat (\d+)$/gm)].map((m) => Number(m[1]));
}

describe('the command line and the process', () => {
  it('--check-config prints every problem and exits 1, or says valid and exits 0', () => {
    const bad = join(s.agent.baseDir, 'bad.yml');
    writeFileSync(bad, 'base_dir: relative/dir\nnats_servers: []\nintervals: {heartbeat: -1}\nbogus: 1\n');
    const r = spawnSync(DEA_BIN, ['--check-config', bad], { encoding: 'utf8', env: deaEnv() });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('base_dir');
    expect(r.stdout).toContain('intervals.heartbeat');
    expect(r.stdout).toContain('bogus');
    const ok = spawnSync(DEA_BIN, ['--check-config', s.agent.configPath], { encoding: 'utf8', env: deaEnv() });
    expect(ok.status).toBe(0);
  });

  it('tests run the sources: a build that looks up to date but is not the code is never what runs', () => {
    // A copy of bin/dea with the real sources beside it and a bogus dist/ whose stamp is
    // newer than them, as a stale build would be after `git checkout` of older sources.
    const root = mkdtempSync(join(tmpdir(), 'dea-stale-dist-'));
    try {
      mkdirSync(join(root, 'bin'));
      mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
      const bin = join(root, 'bin', 'dea');
      copyFileSync(DEA_BIN, bin);
      chmodSync(bin, 0o755);
      symlinkSync(join(REPO, 'src'), join(root, 'src'));
      symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
      writeFileSync(join(root, 'dist', 'cli', 'dea.js'), "process.stdout.write('stale build\\n');\nprocess.exit(42);\n");
      const stamp = join(root, 'dist', '.built');
      writeFileSync(stamp, '');
      const later = new Date(Date.now() + 3600_000);
      utimesSync(stamp, later, later);
      const args = ['--check-config', s.agent.configPath];
      // The trap is set: left to itself, bin/dea takes the bogus build.
      const plain = { ...process.env };
      delete plain.DEA_RUN_SOURCES;
      expect(spawnSync(bin, args, { encoding: 'utf8', cwd: REPO, env: plain }).status).toBe(42);
      // With the environment every agent of the tests gets, the sources run.
      const r = spawnSync(bin, args, { encoding: 'utf8', cwd: REPO, env: deaEnv() });
      expect(r.stdout).not.toContain('stale build');
      expect(r.status).toBe(0);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('refuses to start beside a live agent that holds the pid file', async () => {
    await expect(startAgent({ natsUrl: s.nats.url, baseDir: s.agent.baseDir, config: PROCESS_BACKEND })).rejects.toThrow(/exited with 1/);
  });

  it('through a NATS restart: a crash during the outage is reported after it; starts, heartbeats and routes work again', async () => {
    // The gated agent's outage lasts exactly until the test ends it, so the test's own
    // client is back and subscribed before the agent can send what it held.
    const gate = await natsGate(s.nats.port);
    const agent = await s.startAgent({ natsUrl: gate.url, config: FAST_INTERVALS }).catch(async (err: unknown) => {
      await gate.close();
      throw err;
    });
    try {
      const reg = s.bus.record('router.register');
      const exits = s.bus.record('droplet.exited');
      const hbs = s.bus.record('dea.heartbeat');
      await Promise.all([reg.ready(), exits.ready(), hbs.ready()]);
      await s.startOn(agent, 'serves-http', 'doomed');
      const r = await reg.waitFor((m) => m.data.app === 'doomed', 15_000);
      const pid = await servesHttpPid(r.data.port);
      const [doomed] = await s.find({ droplet: 'doomed' }, agent);

      gate.cut();
      await agent.waitForLog((l) => l.event === 'bus.disconnect', 15_000);
      await s.nats.restart();
      // The server is back for everyone else: the suite's agent answers the test client.
      await eventually(
        () => roundTrip(s.bus, s.agent.id, 1_000).then(() => true, () => false),
        30_000,
        'the suite agent answering after the restart',
      );

      // The app dies while its agent cannot tell anyone.
      process.kill(pid, 'SIGKILL');
      await agent.waitForLog((l) => l.event === 'instance.crashed' && l.instance_id === doomed.instance, 15_000);
      expect(exits.filter((m) => m.data.instance === doomed.instance)).toEqual([]);

      gate.open();
      const exit = await exits.waitFor((m) => m.data.instance === doomed.instance, 20_000);
      expect(exit.data).toMatchObject({ droplet: 'doomed', reason: 'CRASHED', index: 0 });

      // A start sent after the reconnect runs: the agent subscribed again.
      await agent.waitForLog((l) => l.event === 'bus.reconnect', 15_000);
      await s.startOn(agent, 'serves-http', 'reborn');
      const r2 = await reg.waitFor((m) => m.data.app === 'reborn', 20_000);
      expect(r2.data.dea).toBe(agent.id);
      expect((await fetch(`http://127.0.0.1:${r2.data.port}/`)).status).toBe(200);
      // Its timers run on: the app is re-registered and heartbeated on the intervals, not
      // just once when it became RUNNING.
      await reg.waitForCount(3, (m) => m.data.app === 'reborn', 15_000);
      await hbs.waitForCount(2, runningOn(agent.id, 'reborn'), 15_000);
      expect(exits.filter((m) => m.data.instance === doomed.instance)).toHaveLength(1);
    } finally {
      // Stopped through an open gate, the agent can say goodbye and unregister as usual.
      gate.open();
      await agent.dispose();
      await gate.close();
    }
  });

  it('on USR1 says goodbye and stops advertising; on TERM stops its instances and exits 0', async () => {
    const agent = await s.startAgent({ config: FAST_INTERVALS });
    const goodbye = s.bus.record('dea.shutdown');
    const unreg = s.bus.record('router.unregister');
    const reg = s.bus.record('router.register');
    await Promise.all([goodbye.ready(), unreg.ready(), reg.ready()]);
    const d = await s.droplet('serves-http');
    s.bus.publish(`dea.${agent.id}.start`, { droplet: 'term-app', name: 'x', version: 'v1', index: 0, uris: ['t.example.com'], sha1: d.sha1, executableUri: s.files.url(d.path), limits: { mem: 64, disk: 64, fds: 256 }, services: [], env: [], cc_partition: 'default' });
    await reg.waitFor((m) => m.data.app === 'term-app', 15_000);
    agent.child.kill('SIGUSR1');
    const bye = await goodbye.waitFor((m) => m.data.id === agent.id, 15_000);
    expect(bye.data).toEqual({ id: agent.id, ip: '127.0.0.1', version: '0.0.1', app_id_to_count: { 'term-app': 1 } });
    const adverts = s.bus.record('dea.advertise');
    const heartbeats = s.bus.record('dea.heartbeat');
    await Promise.all([adverts.ready(), heartbeats.ready()]);
    // Asked directly, it stays quiet...
    s.bus.publish('dea.locate', {});
    await roundTrip(s.bus, agent.id);
    // ... and across three heartbeats (two whole periods, in which the advertise timer,
    // on the same period, would have fired) it does not advertise by itself either.
    await heartbeats.waitForCount(3, (m) => m.data.dea === agent.id, 15_000);
    expect(adverts.filter((m) => m.data.id === agent.id)).toEqual([]);
    expect(await agent.stop('SIGTERM')).toBe(0);
    await unreg.waitFor((m) => m.data.app === 'term-app', 15_000);
    expect(existsSync(join(agent.baseDir, 'dea.pid'))).toBe(false);
  });

  it('an instance outlives an agent killed with SIGKILL, and a stale pid file does not block the next agent', async () => {
    const agent = await s.startAgent({ config: PROCESS_BACKEND });
    const reg = s.bus.record('router.register');
    await reg.ready();
    const d = await s.droplet('serves-http');
    s.bus.publish(`dea.${agent.id}.start`, { droplet: 'orphan', name: 'x', version: 'v1', index: 0, uris: ['o.example.com'], sha1: d.sha1, executableUri: s.files.url(d.path), limits: { mem: 64, disk: 64, fds: 256 }, services: [], env: [], cc_partition: 'default' });
    const r = await reg.waitFor((m) => m.data.app === 'orphan', 15_000);
    const pid = await servesHttpPid(r.data.port);
    try {
      await agent.stop('SIGKILL');
      expect((await fetch(`http://127.0.0.1:${r.data.port}/`)).status).toBe(200);
      const next = await s.startAgent({ baseDir: agent.baseDir, config: PROCESS_BACKEND });
      expect(next.id).not.toBe(agent.id);
      // The next agent adopts the orphan (test/integration/adoption has the details), and
      // its clean stop stops it.
      await next.waitForLog((l) => l.event === 'agent.adopted', 15_000);
      expect(await next.stop()).toBe(0);
      expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      // Should the adoption have failed, end the orphan (its whole group); dispose() takes
      // its overlay view down with the base_dir.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // stopped by the next agent, as it should be
      }
    }
    await agent.dispose();
    expect(existsSync(agent.baseDir)).toBe(false);
  });
});

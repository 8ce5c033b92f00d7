import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../support/agent-process.js';
import { agentSuite, type AgentSuite } from '../support/agent-suite.js';
import { eventually } from '../support/eventually.js';

const BIN = new URL('../../bin/dea', import.meta.url).pathname;

let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({
    crash_lifetime_secs: 1,
    intervals: { heartbeat: 1, advertise: 1, router_register_in_seconds: 1 },
    instance: { stop_grace_secs: 2, log_max_bytes: 4096 },
    monitor: { interval_ms: 200 },
  });
});
afterAll(async () => s?.close());

describe('what the agent tells its peers', () => {
  it('advertises, heartbeats and re-registers routes on its intervals', async () => {
    const adverts = s.bus.record('dea.advertise');
    const staging = s.bus.record('staging.advertise');
    const heartbeats = s.bus.record('dea.heartbeat');
    const reg = s.bus.record('router.register');
    await Promise.all([adverts.ready(), staging.ready(), heartbeats.ready(), reg.ready()]);
    const ad = await adverts.waitFor(undefined, 3000);
    expect(ad.data).toEqual({
      id: s.agent.id,
      stacks: ['cflinuxfs4'],
      available_memory: 4096,
      available_disk: 16384,
      app_id_to_count: {},
      placement_properties: { zone: 'default' },
    });
    expect((await staging.waitFor(undefined, 3000)).data).toEqual({ id: s.agent.id, stacks: [], available_memory: 0, available_disk: 0 });
    // An empty heartbeat is still sent every period.
    expect((await heartbeats.waitFor(undefined, 3000)).data).toEqual({ droplets: [], dea: s.agent.id });
    await s.start('serves-http', 'periodic');
    await reg.waitForCount(3, (m) => m.data.app === 'periodic', 15_000);
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
    await eventually(() => existsSync(crashDir), 5000, 'crash directory kept');
    await eventually(() => !existsSync(crashDir), 5000, 'crash directory reaped');
    const found = await s.bus.request('dea.find.droplet', { droplet: 'brief' }, { timeoutMs: 300 });
    expect(found).toEqual([]);
  });

  it('caps and rotates an instance log', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.start('worker-no-uris', 'chatty', { uris: [], env: ['HEARTBEAT_MS=1'] });
    await reg.waitFor((m) => m.data.app === 'chatty', 15_000);
    await s.agent.waitForLog((l) => l.event === 'instance.logs.rotated', 10_000);
    s.bus.publish('dea.stop', { droplet: 'chatty' });
  });
});

describe('the command line and the process', () => {
  it('--check-config prints every problem and exits 1, or says valid and exits 0', () => {
    const bad = join(s.agent.baseDir, 'bad.yml');
    writeFileSync(bad, 'base_dir: relative/dir\nnats_servers: []\nintervals: {heartbeat: -1}\nbogus: 1\n');
    const r = spawnSync(BIN, ['--check-config', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('base_dir');
    expect(r.stdout).toContain('intervals.heartbeat');
    expect(r.stdout).toContain('bogus');
    const ok = spawnSync(BIN, ['--check-config', s.agent.configPath], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
  });

  it('refuses to start beside a live agent that holds the pid file', async () => {
    await expect(startAgent({ natsUrl: s.nats.url, baseDir: s.agent.baseDir })).rejects.toThrow(/exited with 1/);
  });

  it('survives a NATS outage and serves again after reconnecting', async () => {
    await s.nats.restart();
    await eventually(async () => (await s.bus.request('dea.status', {}, { expect: 1, timeoutMs: 300 })).length === 1, 15_000, 'status answered again');
  });

  it('on USR1 says goodbye and stops advertising; on TERM stops its instances and exits 0', async () => {
    const agent = await startAgent({ natsUrl: s.nats.url, config: { intervals: { advertise: 1 } } });
    const goodbye = s.bus.record('dea.shutdown');
    const unreg = s.bus.record('router.unregister');
    const reg = s.bus.record('router.register');
    await Promise.all([goodbye.ready(), unreg.ready(), reg.ready()]);
    const d = await s.droplet('serves-http');
    s.bus.publish(`dea.${agent.id}.start`, { droplet: 'term-app', name: 'x', version: 'v1', index: 0, uris: ['t.example.com'], sha1: d.sha1, executableUri: s.files.url(d.path), limits: { mem: 64, disk: 64, fds: 256 }, services: [], env: [], cc_partition: 'default' });
    await reg.waitFor((m) => m.data.app === 'term-app', 15_000);
    agent.child.kill('SIGUSR1');
    const bye = await goodbye.waitFor((m) => m.data.id === agent.id);
    expect(bye.data).toEqual({ id: agent.id, ip: '127.0.0.1', version: '0.0.1', app_id_to_count: { 'term-app': 1 } });
    const adverts = s.bus.record('dea.advertise');
    await adverts.ready();
    await adverts.expectNone((m) => m.data.id === agent.id, 1500);
    expect(await agent.stop('SIGTERM')).toBe(0);
    await unreg.waitFor((m) => m.data.app === 'term-app');
    expect(existsSync(join(agent.baseDir, 'dea.pid'))).toBe(false);
  });

  it('an instance outlives an agent killed with SIGKILL, and a stale pid file does not block the next agent', async () => {
    const agent = await startAgent({ natsUrl: s.nats.url });
    const reg = s.bus.record('router.register');
    await reg.ready();
    const d = await s.droplet('serves-http');
    s.bus.publish(`dea.${agent.id}.start`, { droplet: 'orphan', name: 'x', version: 'v1', index: 0, uris: ['o.example.com'], sha1: d.sha1, executableUri: s.files.url(d.path), limits: { mem: 64, disk: 64, fds: 256 }, services: [], env: [], cc_partition: 'default' });
    const r = await reg.waitFor((m) => m.data.app === 'orphan', 15_000);
    const { pid } = (await (await fetch(`http://127.0.0.1:${r.data.port}/`)).json()) as { pid: number };
    await agent.stop('SIGKILL');
    expect((await fetch(`http://127.0.0.1:${r.data.port}/`)).status).toBe(200);
    const next = await startAgent({ natsUrl: s.nats.url, baseDir: agent.baseDir });
    expect(next.id).not.toBe(agent.id);
    expect(await next.stop()).toBe(0);
    process.kill(-pid, 'SIGKILL');
    // Nobody adopted the orphan: take its overlay view down by hand.
    for (const name of readdirSync(join(agent.baseDir, 'instances'))) {
      spawnSync('umount', ['-l', join(agent.baseDir, 'instances', name)]);
    }
  });
});

/**
 * Container instances in networks of their own, through the real agent, a real
 * nats-server and real namespaces: reachable at local_ip:host_port only through the
 * mapping; isolated from neighbours and the host; egress opened by a rule exactly as far
 * as the rule says, towards a "remote" host in a namespace of the test's own; a bad rule
 * and an exhausted pool fail the start cleanly; stops, crashes and restarts leave
 * nothing. Traffic goes only to loopback and to namespaces these tests made.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { buildDroplet } from '../../support/droplets.js';
import type { AgentHandle } from '../../support/agent-process.js';
import { sweepCgroupRoot, waitFor } from '../container/harness.js';
import { NET_APP, netAppStart } from './net-app.js';
import { leftovers, removeLeftovers } from './leftovers.js';
import { remoteHost, type RemoteHost } from './remote-host.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
const CGROUP_ROOT = `dea-nt-${randomBytes(4).toString('hex')}`;
const REMOTE_OPEN = 7101;
const REMOTE_CLOSED = 7102;
let s: AgentSuite;
let remote: RemoteHost;
let netDroplet: { url: string; sha1: string };
const agents: AgentHandle[] = [];

beforeAll(async () => {
  remote = await remoteHost([REMOTE_OPEN, REMOTE_CLOSED]);
  s = await agentSuite({ backend: { kind: 'container', container: { cgroup_root: CGROUP_ROOT } } });
  agents.push(s.agent);
  const built = await buildDroplet('serves-http-v2', s.dropletDir, { fileName: 'net-app.tgz', extraFiles: { 'app/net.js': NET_APP } });
  netDroplet = { url: s.files.url(built.path), sha1: built.sha1 };
}, 60_000);

afterAll(async () => {
  const dirs = agents.map((a) => a.baseDir);
  await s?.close();
  // The agent's stop removed its instances' networks and those it had made ahead.
  const left: string[] = [];
  for (const dir of dirs) left.push(...(await leftovers(dir)));
  for (const dir of dirs) await removeLeftovers(dir);
  await remote?.close();
  await sweepCgroupRoot(CGROUP_ROOT);
  await sweepCgroupRoot(`${CGROUP_ROOT}-open`);
  expect(left.join('\n')).toBe('');
}, 60_000);

function startNet(agent: AgentHandle, app: string, over: Record<string, unknown> = {}): void {
  s.bus.publish(`dea.${agent.id}.start`, netAppStart(app, netDroplet, over));
}

async function running(app: string, over: Record<string, unknown> = {}, agent = s.agent): Promise<{ port: number; instance: string }> {
  const reg = s.bus.record('router.register');
  await reg.ready();
  startNet(agent, app, over);
  const r = await reg.waitFor((m) => m.data.app === app, 30_000);
  reg.stop();
  const [found] = await s.find({ droplet: app }, agent);
  return { port: r.data.port as number, instance: found.instance as string };
}

const get = async (port: number, path = '/') => (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as any;
const containerIp = async (port: number): Promise<string> => {
  const ifs = await get(port, '/ips');
  const addrs = Object.entries(ifs).filter(([name]) => name !== 'lo').flatMap(([, a]) => a as any[]);
  return addrs.find((a) => a.family === 'IPv4').address as string;
};

async function stop(app: string, agent = s.agent): Promise<void> {
  const exited = s.bus.record('droplet.exited');
  await exited.ready();
  s.bus.publish('dea.stop', { droplet: app });
  await exited.waitFor((m) => m.data.droplet === app, 30_000);
  exited.stop();
  await waitFor(async () => expect(await s.find({ droplet: app }, agent)).toEqual([]), 15_000);
}

describe('net-in', () => {
  it('maps local_ip:host_port to the app on app_port inside its own namespace', async () => {
    const { port, instance } = await running('nt-web');
    expect(port).toBeGreaterThanOrEqual(61001);
    // Its veth carries its short id (the network was made ahead, under an id of its own).
    expect(await leftovers(s.agent.baseDir)).toContain(`link dea${instance.slice(0, 10)}-0`);
    const self = await get(port);
    expect(self).toEqual({ app: 'net', port: 8080 });
    const ip = await containerIp(port);
    expect(ip).toMatch(/^10\.254\.\d+\.\d+$/);
    expect((await get(port, '/file?path=/etc/hosts')).text).toContain(`${ip} `);
    expect((await get(port, '/file?path=/etc/resolv.conf')).text).toMatch(/^nameserver /m);
    const [found] = await s.find({ droplet: 'nt-web', include_stats: true });
    expect(found.stats).toMatchObject({ host: '127.0.0.1', port });
  });
});

describe('isolation', () => {
  let hostServer: Server;
  let hostPort = 0;
  beforeAll(async () => {
    // The app's probe closes at once: a reset while 'host' is written is expected, not an error.
    hostServer = createServer((c) => {
      c.on('error', () => undefined);
      c.end('host');
    });
    await new Promise<void>((r) => hostServer.listen(0, '0.0.0.0', () => r()));
    hostPort = (hostServer.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => hostServer.close(() => r())));

  it('an app reaches neither a neighbour nor the host', async () => {
    const a = await running('nt-a');
    const b = await running('nt-b');
    const ipB = await containerIp(b.port);
    expect(await get(a.port, `/connect?host=${ipB}&port=8080`)).toMatchObject({ connected: false });
    const ipA = await containerIp(a.port);
    const hostEnd = ipA.replace(/\d+$/, (d) => String(Number(d) - 1));
    expect(await get(a.port, `/connect?host=${hostEnd}&port=${hostPort}`)).toMatchObject({ connected: false });
    expect(await get(a.port, `/connect?host=127.0.0.1&port=${a.port}`)).toMatchObject({ connected: false });
  });

  it('reaches both where the operator allows it: allow_host_access, allow_networks', async () => {
    const agent = await s.startAgent({
      // A cgroup root of its own: an agent removes what it finds under its root at its stop.
      config: { backend: { kind: 'container', container: { cgroup_root: `${CGROUP_ROOT}-open`, network: { allow_host_access: true, allow_networks: ['10.254.0.0/22'] } } } },
    });
    agents.push(agent);
    const a = await running('nt-open-a', {}, agent);
    const b = await running('nt-open-b', {}, agent);
    const ipA = await containerIp(a.port);
    const hostEnd = ipA.replace(/\d+$/, (d) => String(Number(d) - 1));
    expect(await get(a.port, `/connect?host=${hostEnd}&port=${hostPort}`)).toEqual({ connected: true });
    expect(await get(a.port, `/connect?host=${await containerIp(b.port)}&port=8080`)).toEqual({ connected: true });
    expect(await agent.stop()).toBe(0);
  }, 60_000);
});

describe('egress', () => {
  it('a rule to the remote host opens exactly its port; everything else stays closed', async () => {
    const rule = { protocol: 'tcp', destination: `${remote.ip}/32`, ports: String(REMOTE_OPEN) };
    const { port } = await running('nt-egress', { egress_network_rules: [rule] });
    expect(await get(port, `/connect?host=${remote.ip}&port=${REMOTE_OPEN}`)).toEqual({ connected: true });
    expect(await get(port, `/connect?host=${remote.ip}&port=${REMOTE_CLOSED}`)).toMatchObject({ connected: false });
    const { port: other } = await running('nt-no-egress');
    expect(await get(other, `/connect?host=${remote.ip}&port=${REMOTE_OPEN}`)).toMatchObject({ connected: false });
  });

  it('an unknown protocol fails the start with a clear exit_description and makes nothing', async () => {
    // Host port claims belong to instances alone (networks made ahead come and go meanwhile).
    const instanceParts = async () => (await leftovers(s.agent.baseDir)).filter((l) => l.startsWith('ports'));
    const before = await instanceParts();
    const exited = s.bus.record('droplet.exited');
    await exited.ready();
    startNet(s.agent, 'nt-bad-rule', { egress_network_rules: [{ protocol: 'sctp', destination: '10.0.0.0/8' }] });
    const m = await exited.waitFor((x) => x.data.droplet === 'nt-bad-rule', 30_000);
    exited.stop();
    expect(m.data.reason).toBe('CRASHED');
    expect(m.data.exit_description).toBe('failed to start: bad egress rule: rule 0: unknown protocol "sctp" (expected tcp, udp, icmp or all)');
    expect(await instanceParts()).toEqual(before);
  });
});

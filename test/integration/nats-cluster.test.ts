import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMessage, type AgentHandle, type AgentLogLine } from '../support/agent-process.js';
import { connectTestClient, type TestBusClient } from '../support/bus-client.js';
import { cleanUp } from '../support/cleanup.js';
import { buildDroplet, serveDroplets, type BuiltDroplet, type DropletServer } from '../support/droplets.js';
import { eventually } from '../support/eventually.js';
import { startNatsCluster, type ClusterNode, type NatsCluster } from '../support/nats-cluster.js';
import { requestAll, roundTrip } from '../support/round-trip.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

/**
 * The agent on a real 3-node nats-server cluster (routes between the nodes): losing its
 * node, and losing all three. The process backend, so the pid an app reports is a host
 * pid the test can kill; one-second intervals, so "resumes" is seen within seconds.
 */
const AGENT_CONFIG = {
  backend: { kind: 'process' },
  intervals: { heartbeat: 1, advertise: 1, router_register_in_seconds: 1 },
};
/** Functional deadlines only: the requirement (2 s) is measured and printed, not asserted. */
const FAILOVER_DEADLINE_MS = 10_000;
const WAIT_MS = 20_000;
/** Reconnect attempts to every node before the outage ends: a few heartbeat periods. */
const OUTAGE_ROUNDS = 5;

let cluster: NatsCluster;
let files: DropletServer;
let dropletDir: string;
let app: BuiltDroplet;
/** What one test made, undone after it (even when it fails) in reverse order. */
let undo: Array<() => unknown> = [];

beforeAll(async () => {
  dropletDir = mkdtempSync(join(tmpdir(), 'dea-cluster-droplets-'));
  files = await serveDroplets(dropletDir);
  app = await buildDroplet('serves-http', dropletDir);
});
afterAll(() => cleanUp(() => files?.close(), () => rmSync(dropletDir, { recursive: true, force: true })));

afterEach(async () => {
  await cleanUp(...undo.splice(0).reverse());
});

async function setUp(): Promise<{ agent: AgentHandle }> {
  cluster = await startNatsCluster();
  undo.push(() => cluster.stop());
  const agent = await startAgent({ natsUrl: cluster.urls[0]!, config: { ...AGENT_CONFIG, nats_servers: cluster.urls } });
  // Before the cluster stops: the agent stops its apps and says goodbye while it can.
  undo.push(() => agent.dispose());
  return { agent };
}

async function client(node: ClusterNode, name: string): Promise<TestBusClient> {
  const c = await connectTestClient(node.url, { name });
  undo.push(() => c.close());
  return c;
}

function start(via: TestBusClient, agent: AgentHandle, appId: string): void {
  via.publish(`dea.${agent.id}.start`, startMessage({ droplet: appId, executableUri: files.url(app.path), sha1: app.sha1 }));
}

/** The node the agent's connection is on, by its own log, confirmed by that node's /connz. */
async function agentNode(agent: AgentHandle, after = 0, timeoutMs = WAIT_MS): Promise<{ node: ClusterNode; at: number }> {
  const line = await agent.waitForLog((l) => isConnectLine(l) && time(l) >= after, timeoutMs);
  const node = cluster.nodeAt(String(line.server ?? line.data));
  if (node === undefined) throw new Error(`the agent connected to an unknown server: ${JSON.stringify(line)}`);
  await eventually(async () => (await node.clientNames()).includes('dea-0'), WAIT_MS, `dea-0 in node-${node.index}'s /connz`);
  return { node, at: time(line) };
}

const isConnectLine = (l: AgentLogLine) => l.event === 'bus.connected' || l.event === 'bus.reconnect';
const time = (l: AgentLogLine) => Date.parse(String(l.time));
const from = (agent: AgentHandle) => (m: { data: any }) => m.data?.dea === agent.id || m.data?.id === agent.id;
const runningIn = (agent: AgentHandle, appId: string) => (m: { data: any }) =>
  m.data?.dea === agent.id && m.data.droplets.some((d: any) => d.droplet === appId && d.state === 'RUNNING');

describe('the agent on a 3-node NATS cluster', () => {
  it('fails over when its node dies: starts, stops and queries sent through another node keep working', async () => {
    const { agent } = await setUp();
    const { node: first } = await agentNode(agent);
    const [watchNode, sendNode] = cluster.nodes.filter((n) => n !== first) as [ClusterNode, ClusterNode];
    // Two clients on the two nodes that survive: what is sent through one is seen through
    // the other, so every message crosses a route.
    const watch = await client(watchNode, 'watch');
    const send = await client(sendNode, 'send');
    const reg = watch.record('router.register');
    const unreg = watch.record('router.unregister');
    const hbs = watch.record('dea.heartbeat');
    const ads = watch.record('dea.advertise');
    await Promise.all([reg.ready(), unreg.ready(), hbs.ready(), ads.ready()]);

    start(send, agent, 'before');
    await reg.waitFor((m) => m.data.app === 'before', WAIT_MS);

    const killedAt = Date.now();
    await first.kill();
    const { node: second, at: reconnectedAt } = await agentNode(agent, killedAt, FAILOVER_DEADLINE_MS);
    expect(second).not.toBe(first);
    // A heartbeat sent through the new node (one from before the kill may still arrive late).
    const hb = await hbs.waitFor((m) => from(agent)(m) && m.receivedAt >= reconnectedAt, FAILOVER_DEADLINE_MS);
    console.info(
      `[nats-cluster] failover: node-${first.index} killed → reconnected to node-${second.index} in ${reconnectedAt - killedAt} ms,` +
        ` first heartbeat through node-${watchNode.index} after ${hb.receivedAt - killedAt} ms`,
    );

    // Every subscription survived, and works through a node the agent is not on.
    await roundTrip(send, agent.id);
    start(send, agent, 'after');
    const r = await reg.waitFor((m) => m.data.app === 'after', WAIT_MS);
    expect(r.data.dea).toBe(agent.id);
    expect((await fetch(`http://127.0.0.1:${r.data.port}/`)).status).toBe(200);
    const found = await requestAll(send, agent.id, 'dea.find.droplet', { droplet: 'before' });
    expect(found).toEqual([expect.objectContaining({ droplet: 'before', state: 'RUNNING' })]);
    send.publish('dea.stop', { droplet: 'before' });
    await unreg.waitFor((m) => m.data.app === 'before', WAIT_MS);

    // The periodic reports go on after the failover, not just once.
    const since = Date.now();
    await hbs.waitForCount(2, (m) => runningIn(agent, 'after')(m) && m.receivedAt >= since, WAIT_MS);
    await ads.waitForCount(2, (m) => from(agent)(m) && m.receivedAt >= since, WAIT_MS);
    await reg.waitForCount(2, (m) => m.data.app === 'after' && m.receivedAt >= since, WAIT_MS);
  }, 90_000);

  it('delivers a droplet.exited sent into a node that hung and then died', async () => {
    const { agent } = await setUp();
    const { node: first } = await agentNode(agent);
    const watchNode = cluster.nodes.find((n) => n !== first)!;
    const watch = await client(watchNode, 'watch');
    const exits = watch.record('droplet.exited');
    const reg = watch.record('router.register');
    await Promise.all([exits.ready(), reg.ready()]);
    start(watch, agent, 'doomed');
    const r = await reg.waitFor((m) => m.data.app === 'doomed', WAIT_MS);
    const { pid } = (await (await fetch(`http://127.0.0.1:${r.data.port}/`)).json()) as { pid: number };
    const [doomed] = await requestAll(watch, agent.id, 'dea.find.droplet', { droplet: 'doomed' });
    const doomedExit = (m: { data: any }) => m.data.instance === doomed.instance;

    // The node hangs: the agent's connection stays up, and what it sends waits unread.
    const frozenAt = Date.now();
    first.freeze();
    process.kill(pid, 'SIGKILL');
    await agent.waitForLog((l) => l.event === 'instance.crashed' && l.instance_id === doomed.instance, WAIT_MS);
    expect(agent.logs().filter((l) => l.event === 'bus.disconnect' && time(l) >= frozenAt)).toEqual([]);
    // Then it dies, and the exit with it, unless the agent sends it again.
    await first.kill();
    const exit = await exits.waitFor(doomedExit, WAIT_MS);
    expect(exit.data).toMatchObject({ droplet: 'doomed', reason: 'CRASHED', index: 0 });
    await roundTrip(watch, agent.id);
    expect(exits.filter(doomedExit)).toHaveLength(1);
  }, 90_000);

  it('rides out a full outage: a crash during it is reported once after it, and the reports resume', async () => {
    const { agent } = await setUp();
    const watchNode = cluster.nodes[0]!;
    const watch = await client(watchNode, 'watch');
    // droplet.* covers droplet.exited and the probes that show the subscription reached every node.
    const exits = watch.record('droplet.*');
    const reg = watch.record('router.register');
    const hbs = watch.record('dea.heartbeat');
    const ads = watch.record('dea.advertise');
    // Everything, in the order it arrived (one publisher's order survives the routes).
    const everyMessage = watch.record('>');
    await Promise.all([exits.ready(), reg.ready(), hbs.ready(), ads.ready(), everyMessage.ready()]);
    start(watch, agent, 'doomed');
    start(watch, agent, 'survivor');
    const doomedReg = await reg.waitFor((m) => m.data.app === 'doomed', WAIT_MS);
    await reg.waitFor((m) => m.data.app === 'survivor', WAIT_MS);
    const { pid } = (await (await fetch(`http://127.0.0.1:${doomedReg.data.port}/`)).json()) as { pid: number };
    const [doomed] = await requestAll(watch, agent.id, 'dea.find.droplet', { droplet: 'doomed' });
    const doomedExit = (m: { subject: string; data: any }) => m.subject === 'droplet.exited' && m.data.instance === doomed.instance;

    const downAt = Date.now();
    await Promise.all(cluster.nodes.map((n) => n.kill()));
    await agent.waitForLog((l) => l.event === 'bus.disconnect' && time(l) >= downAt, WAIT_MS);
    // Riding it out: it keeps trying every server, not just the one it lost. Several
    // rounds (half a second apart), so the outage spans heartbeat and advert periods.
    const attempts = (n: ClusterNode) =>
      agent.logs().filter((l) => l.event === 'bus.reconnecting' && time(l) >= downAt && cluster.nodeAt(String(l.data)) === n).length;
    await eventually(() => cluster.nodes.every((n) => attempts(n) >= OUTAGE_ROUNDS), WAIT_MS, `${OUTAGE_ROUNDS} reconnect attempts to every node`);

    // The app dies while its agent can tell no one.
    process.kill(pid, 'SIGKILL');
    await agent.waitForLog((l) => l.event === 'instance.crashed' && l.instance_id === doomed.instance, WAIT_MS);

    // The watcher must be back, and its subscriptions known to every node, before the
    // agent can send what it held: the agent waits (stopped) until then.
    agent.child.kill('SIGSTOP');
    undo.push(() => agent.child.kill('SIGCONT'));
    await Promise.all(cluster.nodes.map((n) => n.start()));
    await cluster.waitForRoutes();
    await eventually(() => watch.flush().then(() => true, () => false), WAIT_MS, 'the watcher reconnected');
    for (const n of cluster.nodes) {
      const probe = await client(n, `probe-${n.index}`);
      await eventually(
        async () => {
          probe.publish('droplet.probe', { node: n.index });
          await probe.flush();
          await new Promise((r) => setTimeout(r, 50));
          return exits.filter((m) => m.subject === 'droplet.probe' && m.data.node === n.index).length > 0;
        },
        WAIT_MS,
        `the watcher's subscription known to node-${n.index}`,
      );
      await probe.close();
    }
    expect(exits.filter(doomedExit)).toEqual([]);

    const backAt = Date.now();
    agent.child.kill('SIGCONT');
    const exit = await exits.waitFor(doomedExit, WAIT_MS);
    expect(exit.data).toMatchObject({ droplet: 'doomed', reason: 'CRASHED', index: 0 });
    const hb = await hbs.waitFor((m) => from(agent)(m) && m.receivedAt >= backAt, WAIT_MS);
    const ad = await ads.waitFor((m) => from(agent)(m) && m.receivedAt >= backAt, WAIT_MS);
    const rr = await reg.waitFor((m) => m.data.app === 'survivor' && m.receivedAt >= backAt, WAIT_MS);
    console.info(
      `[nats-cluster] after the outage (agent resumed at 0 ms): droplet.exited ${exit.receivedAt - backAt} ms, heartbeat ${hb.receivedAt - backAt} ms,` +
        ` advert ${ad.receivedAt - backAt} ms, router.register ${rr.receivedAt - backAt} ms`,
    );

    // Exactly one: everything the agent sent before answering this has arrived.
    await roundTrip(watch, agent.id);
    expect(exits.filter(doomedExit)).toHaveLength(1);
    const all = everyMessage.all();
    // What it held was the latest of its whole-state reports, not one per period of the
    // outage, in the order it was published: no heartbeat after the exit says the app runs.
    const everything = all.filter((m) => m.receivedAt >= backAt && (from(agent)(m) || doomedExit(m)));
    const exitAt = everything.findIndex(doomedExit);
    expect(everything.slice(0, exitAt).filter((m) => m.subject === 'dea.heartbeat').length).toBeLessThanOrEqual(1);
    expect(everything.slice(0, exitAt).filter((m) => m.subject === 'dea.advertise').length).toBeLessThanOrEqual(1);
    const stale = everything.slice(exitAt).filter((m) => m.subject === 'dea.heartbeat' && m.data.droplets.some((d: any) => d.instance === doomed.instance && d.state === 'RUNNING'));
    expect(stale).toEqual([]);
    // And it keeps reporting on its intervals.
    const since = Date.now();
    await hbs.waitForCount(2, (m) => runningIn(agent, 'survivor')(m) && m.receivedAt >= since, WAIT_MS);
    await reg.waitForCount(2, (m) => m.data.app === 'survivor' && m.receivedAt >= since, WAIT_MS);
    expect(exits.filter(doomedExit)).toHaveLength(1);
  }, 120_000);
});

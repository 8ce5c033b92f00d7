/**
 * The fleet bench (`npm run bench:fleet`, issue 16; not part of `npm test`): a real
 * 3-node nats-server cluster on this machine, DEA_FLEET_AGENTS (default 20) real agents
 * spread over its nodes (process backend, small capacities), and a load generator that
 * plays a cloud controller (starts, stops, dea.find.droplet) and a health manager
 * (takes every heartbeat). It measures, from the servers' own counters, what each agent
 * puts on the bus at idle and under churn, the servers' CPU, and the largest messages
 * against NATS's max_payload; then extrapolates to 10,000 agents × 50 instances with
 * bench/fleet/model.ts. Writes bench/results/fleet.json; removes everything it made.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAgent, startMessage, type AgentHandle } from '../test/support/agent-process.js';
import { connectTestClient, type TestBusClient } from '../test/support/bus-client.js';
import { buildDroplet, serveDroplets } from '../test/support/droplets.js';
import { startNatsCluster, type NatsCluster } from '../test/support/nats-cluster.js';
import { runBench, type Cleanup } from './cleanup.js';
import { fleetLoad, heartbeatLimit, linear, type FleetShape } from './fleet/model.js';
import { payloadSizes } from './fleet/payloads.js';
import { rates, sampleTraffic, type WindowRates } from './fleet/traffic.js';
import { median, round } from './stats.js';

const AGENTS = Number(process.env['DEA_FLEET_AGENTS'] ?? 20);
const WINDOW_S = Number(process.env['DEA_FLEET_WINDOW_S'] ?? 60);
const PER_AGENT = Number(process.env['DEA_FLEET_INSTANCES'] ?? 2);
const TMP = process.env['DEA_BENCH_TMPDIR'] ?? os.tmpdir();
const RESULTS = fileURLToPath(new URL('./results/fleet.json', import.meta.url));
/** The fleet the figures are extrapolated to, and who listens (stated in docs/performance.md). */
const TARGET: FleetShape = { agents: 10_000, instancesPerAgent: 50, heartbeatS: 10, advertiseS: 5, routerRegisterS: 20, routers: 20, controllers: 10, healthManagers: 1, broadcastOpsPerS: 50 };

function progress(line: string): void {
  process.stderr.write(`[bench:fleet ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isAgent = (name: string) => /^dea-\d+$/.test(name);

interface Fleet {
  cluster: NatsCluster;
  bus: TestBusClient;
  agents: AgentHandle[];
  start(agent: AgentHandle, app: string): void;
}

async function makeFleet(cleanup: Cleanup): Promise<Fleet> {
  const work = await mkdtemp(path.join(TMP, 'dea-bench-fleet-'));
  await chmod(work, 0o755);
  cleanup.defer(`remove ${work}`, () => rm(work, { recursive: true, force: true }));
  const cluster = await startNatsCluster();
  cleanup.defer('stop the nats cluster', () => cluster.stop());
  const droplet = await buildDroplet('serves-http', path.join(work, 'droplets'));
  const files = await serveDroplets(path.join(work, 'droplets'));
  cleanup.defer('close the droplet server', () => files.close());
  const bus = await connectTestClient(cluster.urls[0]!, { name: 'fleet-loadgen' });
  cleanup.defer('close the load generator', () => bus.close());
  const agents: AgentHandle[] = [];
  // A few at a time: 20 agents booting at once on two cores would only measure the boot.
  for (let i = 0; i < AGENTS; i += 4) {
    const batch = Array.from({ length: Math.min(4, AGENTS - i) }, (_, k) => i + k).map(async (index) => {
      const home = index % cluster.urls.length;
      const servers = [...cluster.urls.slice(home), ...cluster.urls.slice(0, home)];
      const agent = await startAgent({
        natsUrl: servers[0]!,
        compiled: true,
        config: { index, nats_servers: servers, backend: { kind: 'process' }, resources: { memory_mb: 1024, disk_mb: 8192 }, logging: { level: 'info' } },
      });
      cleanup.defer(`stop agent ${index}`, () => agent.dispose());
      return agent;
    });
    agents.push(...(await Promise.all(batch)));
  }
  const start = (agent: AgentHandle, app: string) =>
    bus.publish(`dea.${agent.id}.start`, startMessage({ droplet: app, executableUri: files.url(droplet.path), sha1: droplet.sha1, limits: { mem: 64, disk: 64, fds: 256 } }));
  return { cluster, bus, agents, start };
}

async function window(cluster: NatsCluster, seconds: number, during?: (until: number) => Promise<void>): Promise<WindowRates> {
  const a = await sampleTraffic(cluster);
  const until = Date.now() + seconds * 1000;
  if (during) await during(until);
  await sleep(Math.max(0, until - Date.now()));
  return rates(a, await sampleTraffic(cluster), isAgent);
}

/** A cloud controller's churn: a stop and a start a second, five find.droplet a second. */
async function churn(f: Fleet, live: string[], until: number): Promise<{ starts: number; stops: number; finds: number }> {
  let starts = 0;
  let stops = 0;
  let finds = 0;
  let next = 0;
  while (Date.now() < until) {
    for (let k = 0; k < 5; k++) {
      const app = live[Math.floor(Math.random() * live.length)];
      if (app !== undefined) f.bus.publish('dea.find.droplet', { droplet: app, include_stats: true }, { reply: `_INBOX.fleet-${finds++}` });
    }
    const victim = live.splice(Math.floor(Math.random() * live.length), 1)[0];
    if (victim !== undefined) {
      f.bus.publish('dea.stop', { droplet: victim });
      stops++;
    }
    const app = `fleet-churn-${next++}`;
    f.start(f.agents[Math.floor(Math.random() * f.agents.length)]!, app);
    live.push(app);
    starts++;
    await sleep(1000);
  }
  return { starts, stops, finds };
}

function summary(w: WindowRates) {
  const per = (k: 'msgsOut' | 'bytesOut' | 'msgsIn' | 'bytesIn') => round(median(w.perAgent.map((a) => a[k])), 2);
  return {
    seconds: round(w.seconds, 1),
    agentsSeen: w.perAgent.length,
    perAgentMedian: { msgsOut: per('msgsOut'), bytesOut: per('bytesOut'), msgsIn: per('msgsIn'), bytesIn: per('bytesIn') },
    serverCpuCores: w.serverCpu.map((c) => round(c, 4)),
  };
}

/**
 * The servers' CPU per message at a rate that dwarfs their idle work (pings, route
 * gossip): CALIBRATION_MSGS route-registration-sized messages published on one node and
 * delivered to a subscriber on another, so each crosses a route. µs of all three
 * servers' CPU per message: an upper bound for a delivery in the fleet.
 */
const CALIBRATION_MSGS = 200_000;
async function calibrate(cluster: NatsCluster, cleanup: Cleanup): Promise<number> {
  const pub = await connectTestClient(cluster.urls[0]!, { name: 'fleet-cal-pub' });
  cleanup.defer('close the calibration publisher', () => pub.close());
  const subscriber = await connectTestClient(cluster.urls[1]!, { name: 'fleet-cal-sub' });
  cleanup.defer('close the calibration subscriber', () => subscriber.close());
  let got = 0;
  subscriber.nc.subscribe('fleet.calibrate', { callback: () => got++ });
  await subscriber.flush();
  // Interest crosses the route asynchronously: probe until a message gets through.
  while (got === 0) {
    pub.nc.publish('fleet.calibrate', 'probe');
    await pub.flush();
    await sleep(50);
  }
  const payload = 'x'.repeat(250);
  const a = await sampleTraffic(cluster);
  const target = got + CALIBRATION_MSGS;
  for (let i = 0; i < CALIBRATION_MSGS; i++) {
    pub.nc.publish('fleet.calibrate', payload);
    if (i % 1000 === 999) await pub.flush();
  }
  const deadline = Date.now() + 120_000;
  while (got < target && Date.now() < deadline) await sleep(20);
  const b = await sampleTraffic(cluster);
  const cpu = b.serverCpuS.reduce((s, v, i) => s + v - a.serverCpuS[i]!, 0);
  return (cpu / CALIBRATION_MSGS) * 1e6;
}

function agentsRssMiB(agents: AgentHandle[]): number {
  let kb = 0;
  for (const a of agents) {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${a.child.pid}/status`, 'utf8'));
    kb += Number(m?.[1] ?? 0);
  }
  return round(kb / 1024, 0);
}

async function run(cleanup: Cleanup): Promise<void> {
  const f = await makeFleet(cleanup);
  const perNode = f.cluster.nodes.map((n) => n.index).map((i) => f.agents.filter((_, k) => k % 3 === i).length);
  progress(`${f.agents.length} agents up (per node ${perNode.join('/')}), idle window ${WINDOW_S} s`);
  const beats = f.bus.record('dea.heartbeat');
  const regs = f.bus.record('router.register');
  await Promise.all([beats.ready(), regs.ready()]);
  const idle = await window(f.cluster, WINDOW_S);
  progress(`placing ${PER_AGENT} instances on each agent`);
  const live: string[] = [];
  for (const [i, agent] of f.agents.entries()) {
    for (let k = 0; k < PER_AGENT; k++) {
      const app = `fleet-${i}-${k}`;
      f.start(agent, app);
      live.push(app);
    }
  }
  await regs.waitFor(() => new Set(regs.all().map((m) => m.data.app)).size >= live.length, 300_000);
  progress(`all ${live.length} instances routed; churn window ${WINDOW_S} s`);
  let ops = { starts: 0, stops: 0, finds: 0 };
  const busy = await window(f.cluster, WINDOW_S, async (until) => {
    ops = await churn(f, live, until);
  });
  const rss = agentsRssMiB(f.agents);
  const varz = (await (await fetch(`http://127.0.0.1:${f.cluster.nodes[0]!.monitorPort}/varz`)).json()) as { max_payload: number };
  const s0 = payloadSizes(0);
  const s500 = payloadSizes(500);
  const registerBytes = Math.max(...regs.all().map((m) => Buffer.byteLength(m.raw)));
  const sizes = { heartbeat: linear(0, s0.heartbeat, 500, s500.heartbeat), advertise: linear(0, s0.advertise, 500, s500.advertise), register: registerBytes };
  const target = fleetLoad(TARGET, sizes);
  progress(`calibrating the servers' CPU per message (${CALIBRATION_MSGS} messages across a route)`);
  const cpuPerMsgUs = await calibrate(f.cluster, cleanup);
  const results = {
    at: new Date().toISOString(),
    agents: f.agents.length,
    instancesPerAgent: PER_AGENT,
    idle: summary(idle),
    churn: { ...summary(busy), ops },
    heartbeatsSeen: beats.all().length,
    agentsRssMiB: rss,
    maxPayload: varz.max_payload,
    largest: { heartbeat500: s500.heartbeat, advertise500: s500.advertise, register: registerBytes },
    heartbeatLimitInstances: heartbeatLimit(sizes, varz.max_payload),
    serverCpuPerMessageUs: round(cpuPerMsgUs, 2),
    // Upper bound: every delivery costed as a whole publish-route-deliver chain.
    target: { shape: TARGET, ...Object.fromEntries(Object.entries(target).map(([k, v]) => [k, round(v, 0)])), serverCoresAtMost: round((target.deliveredMsgs * cpuPerMsgUs) / 1e6, 1) },
  };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

await runBench(async (cleanup) => {
  try {
    await run(cleanup);
  } finally {
    progress('cleaning up');
  }
});

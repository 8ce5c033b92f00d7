/**
 * Elastic memory and the agent's CPU group (issue 15's benchmark; `npm run bench:elastic`):
 * - reclaim latency: on this host's real cgroups, a pool that a borrower and a modest
 *   instance fill; the time from the pool going short (`under_oom 1`, watched every
 *   millisecond by the bench) to the borrower's death by the agent's own PoolPressure
 *   (50 ms poll) and Reclaimer; goal under 200 ms;
 * - heartbeat jitter: a real agent with a 1 s heartbeat and three CPU-burning container
 *   instances on this 2-core machine, with `reserved_cpu_shares` 1024 (the default) and
 *   2 (next to nothing: as if the agent had no group of its own).
 * Writes bench/results/elastic.json; removes everything it made.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectCgroupHost } from '../src/backends/container/cgroup-host.js';
import { InstanceCgroups, prepareCgroupRoot } from '../src/backends/container/cgroups.js';
import { elasticLimits } from '../src/backends/container/elastic-pool.js';
import { applyMemoryPolicy, openPoolProbe } from '../src/backends/container/memory-pool.js';
import { PoolPressure } from '../src/backends/container/pool-pressure.js';
import { Reclaimer } from '../src/monitor/reclaimer.js';
import { systemClock } from '../src/platform/clock.js';
import { silentLogger } from '../src/platform/logger.js';
import { startAgent, startMessage } from '../test/support/agent-process.js';
import { connectTestClient } from '../test/support/bus-client.js';
import { buildDroplet, serveDroplets } from '../test/support/droplets.js';
import { startNatsServer } from '../test/support/nats-server.js';
import { sweepCgroupRoot } from '../test/integration/container/harness.js';
import { runBench, type Cleanup } from './cleanup.js';
import { round, summarize } from './stats.js';

const MIB = 1024 * 1024;
const RUNS = 10;
const RESULTS = fileURLToPath(new URL('./results/elastic.json', import.meta.url));
const host = detectCgroupHost();

function progress(line: string): void {
  process.stderr.write(`[bench:elastic ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function hog(cg: InstanceCgroups, mb: number, children: ChildProcess[]): Promise<void> {
  const joins = cg.procsFiles().map((f) => `echo $$ > ${f}`).join('; ');
  const child = spawn('sh', ['-c', `${joins}; exec python3 -c 'import time; x=bytearray(${mb}*1024*1024); time.sleep(600)'`], { stdio: 'ignore' });
  children.push(child);
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** One run: ms from the pool going short to the borrower's death by the agent's reclaim. */
async function reclaimOnce(root: string, children: ChildProcess[]): Promise<number> {
  const pool = 120 * MIB;
  const limits = (mb: number) => ({ ...elasticLimits(mb, 2.5, pool), cpuShares: 8, pidsMax: 64 });
  const borrower = await InstanceCgroups.create(host, root, randomBytes(16).toString('hex'), limits(48), systemClock);
  const modest = await InstanceCgroups.create(host, root, randomBytes(16).toString('hex'), limits(48), systemClock);
  const probe = openPoolProbe(host, root, pool)!;
  const pressure = new PoolPressure(probe, systemClock);
  try {
    const borrowerGone = hog(borrower, 80, children).then(() => performance.now());
    while (Number(readFileSync(join(host.v1.get('memory')!, root, 'memory.usage_in_bytes'), 'utf8')) < 80 * MIB) await new Promise((r) => setTimeout(r, 5));
    const reclaimer = new Reclaimer<InstanceCgroups>({
      candidates: () => [
        { subject: borrower, candidate: { instanceId: 'borrower', guaranteeBytes: 48 * MIB, usedBytes: 80 * MIB, startedAtMs: 0 } },
        { subject: modest, candidate: { instanceId: 'modest', guaranteeBytes: 48 * MIB, usedBytes: 45 * MIB, startedAtMs: 1 } },
      ],
      kill: (cg) => cg.killAll(),
      logger: silentLogger(),
    });
    pressure.start(() => reclaimer.onShort());
    void hog(modest, 45, children);
    const oomFile = join(host.v1.get('memory')!, root, 'memory.oom_control');
    let shortAt = 0;
    while (shortAt === 0) {
      if (/under_oom 1/.test(readFileSync(oomFile, 'utf8'))) shortAt = performance.now();
      else await new Promise((r) => setImmediate(r));
    }
    return (await borrowerGone) - shortAt;
  } finally {
    pressure.stop();
    await borrower.killAll();
    await modest.killAll();
    await borrower.remove();
    await modest.remove();
  }
}

async function reclaimLatency(cleanup: Cleanup): Promise<Record<string, unknown>> {
  const root = `dea-bench-elastic-${process.pid}`;
  const children: ChildProcess[] = [];
  cleanup.defer('kill the hogs', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
  cleanup.defer('remove the cgroup root', () => sweepCgroupRoot(root));
  await prepareCgroupRoot(host, root);
  applyMemoryPolicy(host, root, 120 * MIB);
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push(await reclaimOnce(root, children));
  const s = summarize(ms);
  return { runs: RUNS, medianMs: round(s.median, 1), p90Ms: round(s.p90, 1), maxMs: round(Math.max(...ms), 1) };
}

/** A real agent on a container root of its own, its nats-server, bus and one droplet served, all undone by `cleanup`. */
async function benchAgent(cleanup: Cleanup, name: string, app: string, config: Record<string, unknown>) {
  const work = await mkdtemp(join(os.tmpdir(), `dea-bench-${name}-`));
  await chmod(work, 0o755);
  cleanup.defer(`remove ${work}`, () => rm(work, { recursive: true, force: true }));
  const root = `dea-bench-${name}-${process.pid}`;
  cleanup.defer('remove the cgroup root', () => sweepCgroupRoot(root));
  const nats = await startNatsServer();
  cleanup.defer('stop nats', () => nats.stop());
  const bus = await connectTestClient(nats.url, { name: `bench-${name}` });
  cleanup.defer('close the bus', () => bus.close());
  const d = await buildDroplet(app, join(work, 'droplets'));
  const files = await serveDroplets(join(work, 'droplets'));
  cleanup.defer('close the droplet server', () => files.close());
  const { container: extra, ...rest } = config;
  const container = { cgroup_root: root, network: { enabled: false }, ...(extra as object | undefined) };
  const agent = await startAgent({ natsUrl: nats.url, compiled: true, config: { logging: { level: 'info' }, ...rest, backend: { kind: 'container', container } } });
  cleanup.defer('stop the agent', () => agent.dispose());
  const start = (droplet: string, over: Record<string, unknown>) =>
    bus.publish(`dea.${agent.id}.start`, startMessage({ droplet, executableUri: files.url(d.path), sha1: d.sha1, ...over }));
  return { bus, agent, start };
}

/** Heartbeat intervals of an agent whose three instances burn both cores. */
async function heartbeatJitter(cleanup: Cleanup, reservedShares: number): Promise<Record<string, unknown>> {
  const { bus, agent, start } = await benchAgent(cleanup, `hb${reservedShares}`, 'busy-cpu', { intervals: { heartbeat: 1 }, resources: { reserved_cpu_shares: reservedShares } });
  const regs = bus.record('router.register');
  await regs.ready();
  for (let i = 0; i < 3; i++) start(`burn-${i}`, { limits: { mem: 64, disk: 256, fds: 1024 } });
  await regs.waitFor(() => new Set(regs.all().map((m) => m.data.app)).size >= 3, 60_000);
  const beats = bus.record('dea.heartbeat');
  await beats.ready();
  await beats.waitFor(() => beats.all().length >= 31, 120_000);
  const t = beats.all().map((m) => m.receivedAt);
  const dev = t.slice(1).map((x, i) => Math.abs(x - t[i]! - 1000));
  const s = summarize(dev);
  await agent.dispose();
  return { reservedCpuShares: reservedShares, intervals: dev.length, deviationMedianMs: round(s.median, 1), deviationP90Ms: round(s.p90, 1), deviationMaxMs: round(Math.max(...dev), 1) };
}

/**
 * Density: idle instances of an app that usually needs 64 MB but peaks at 120 MB, in a
 * 2 GB pool. Under `hard` its quota must cover the peak (120 MB, or it is stopped at its
 * first peak); under `elastic` its quota is what it usually needs (64 MB) and peaks are
 * borrowed. Starts one more than placement allows and counts what runs; the pool's real
 * use comes from varz.
 */
async function density(cleanup: Cleanup, policy: 'hard' | 'elastic', quotaMb: number): Promise<Record<string, unknown>> {
  const { bus, agent, start } = await benchAgent(cleanup, `dens-${policy}`, 'worker-no-uris', {
    container: { memory_policy: policy }, resources: { memory_mb: 2048 }, instance: { elastic: { max_factor: 2 } }, intervals: { heartbeat: 1 },
  });
  const fits = Math.floor(2048 / quotaMb);
  for (let i = 0; i <= fits; i++) {
    start(`dens-${i}`, { uris: [], limits: { mem: quotaMb, disk: 64, fds: 256 } });
  }
  const beats = bus.record('dea.heartbeat');
  await beats.ready();
  // The agent's whole state, once a second: RUNNING instances counted from the latest.
  const running = () => ((beats.all().at(-1)?.data.droplets ?? []) as Array<{ state: string }>).filter((x) => x.state === 'RUNNING').length;
  const deadline = Date.now() + 120_000;
  while (running() < fits && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 3000)); // the one too many has had its chance
  const result = { policy, quotaMb, started: fits + 1, running: running() };
  beats.stop();
  await agent.dispose();
  return result;
}

await runBench(async (cleanup) => {
  progress(`reclaim latency, ${RUNS} runs`);
  const reclaim = await reclaimLatency(cleanup);
  progress('heartbeat jitter with the agent\'s reserved CPU shares (1024), then with 2');
  const reserved = await heartbeatJitter(cleanup, 1024);
  const starved = await heartbeatJitter(cleanup, 2);
  progress('density: 120 MB quotas under hard, 64 MB guarantees under elastic, in a 2 GB pool');
  const dense = [await density(cleanup, 'hard', 120), await density(cleanup, 'elastic', 64)];
  const results = { at: new Date().toISOString(), reclaim, heartbeat: { reserved, starved }, density: dense };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
});

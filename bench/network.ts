/**
 * What instance networks cost and how well shaping holds its rate, on this host:
 *  1. container launch (until the app is exec'd) and create + run /bin/true + destroy,
 *     with a network of its own (netns, veth, nft table, addresses) and without,
 *     interleaved, same method as bench/container.ts;
 *  2. instance.bandwidth: payload throughput into and out of a shaped container against
 *     the configured rate (loopback → DNAT → the container's namespace, nothing else).
 * Writes bench/results/network.json. Everything it makes is removed, also on failure.
 */
import { connect, createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createContainerBackend } from '../src/backends/container/index.js';
import type { LaunchSpec } from '../src/backends/types.js';
import { systemClock } from '../src/platform/clock.js';
import { silentLogger } from '../src/platform/logger.js';
import { containerHarness, type Harness } from '../test/integration/container/harness.js';
import { NET_APP } from '../test/integration/network/net-app.js';
import { removeLeftovers } from '../test/integration/network/leftovers.js';
import { runBench, type Cleanup } from './cleanup.js';
import { roundSummary, summarize } from './stats.js';

const RUNS = 30;
const REACH_RUNS = 10;
const WARMUP = 3;
const RESULTS = fileURLToPath(new URL('./results/network.json', import.meta.url));
const LIBEXEC = fileURLToPath(new URL('../libexec', import.meta.url));
const SHAPED = [
  { rate: 1_000_000, bytes: 4_000_000 },
  { rate: 4_000_000, bytes: 12_000_000 },
];

const progress = (line: string) => process.stderr.write(`[bench:network ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const nowMs = () => performance.now();

type Backend = Awaited<ReturnType<typeof networked>>;

/** A container backend over the harness's base dir and cgroups, with networks (optionally shaped). */
async function networked(h: Harness, bandwidth: { rate: number; burst: number | null } | null) {
  const config = {
    enabled: true, pool: '10.254.0.0/22', portPoolStart: 61001, portPoolSize: 4534, appPort: 8080, mtu: 1500,
    allowHostAccess: false, allowNetworks: [], denyNetworks: [],
  };
  const choice = await createContainerBackend({
    baseDir: h.base, runDir: join(h.base, 'run'), uidDir: join(h.base, 'uids'), libexecDir: LIBEXEC, cgroupRoot: h.cgroupRoot,
    lxcfsDir: join(h.base, 'no-lxcfs'), defaultRootfs: '/', appGroup: null,
    uidPool: { start: 200_000 + randomBytes(2).readUInt16BE() * 16, size: 64 },
    network: { config, bandwidth, localIp: '127.0.0.1' },
    clock: systemClock, logger: silentLogger(),
  });
  if (!choice.ok || choice.hostPorts === null) throw new Error(`no container backend with networks here: ${choice.ok ? 'no port pool' : choice.why}`);
  // As the agent does after adoption: nothing to sweep here, and networks start being made ahead.
  await choice.backend.sweep(new Set());
  return { backend: choice.backend, ports: choice.hostPorts };
}

async function withNetwork(b: Backend, spec: LaunchSpec): Promise<LaunchSpec> {
  const hostPort = await b.ports.allocate(spec.instanceId);
  return { ...spec, env: [...spec.env.filter(([k]) => k !== 'PORT'), ['PORT', '8080']], network: { hostPort, egress: [] } };
}

/** launch → exec'd → exited → destroyed, for a container of /bin/true. */
async function once(h: Harness, b: Backend | null): Promise<{ launchMs: number; totalMs: number }> {
  const plain = await h.instance('exec /bin/true');
  const spec = b === null ? plain : await withNetwork(b, plain);
  const t0 = nowMs();
  const p = await (b?.backend ?? h.backend).launch(spec);
  const launchMs = nowMs() - t0;
  await p.exited;
  await p.destroy();
  const totalMs = nowMs() - t0;
  if (b !== null) b.ports.release(spec.network?.hostPort ?? null);
  return { launchMs, totalMs };
}

async function startOverhead(h: Harness, cleanup: Cleanup): Promise<Record<string, unknown>> {
  const b = await networked(h, null);
  cleanup.defer('close the networked backend', () => b.backend.close());
  const net: { launchMs: number; totalMs: number }[] = [];
  const plain: { launchMs: number; totalMs: number }[] = [];
  progress(`launch: ${WARMUP} warm-up + ${RUNS} rounds of (with network, without)`);
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const n = await once(h, b);
    const p = await once(h, null);
    if (i < WARMUP) continue;
    net.push(n);
    plain.push(p);
  }
  const s = (xs: number[]) => roundSummary(summarize(xs));
  const launch = { withNetwork: s(net.map((r) => r.launchMs)), without: s(plain.map((r) => r.launchMs)) };
  const total = { withNetwork: s(net.map((r) => r.totalMs)), without: s(plain.map((r) => r.totalMs)) };
  return { launchMs: launch, totalMs: total, addedToLaunchMedianMs: Math.round((launch.withNetwork.median - launch.without.median) * 100) / 100 };
}

/** A free host port for an app without a network of its own. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** launch → the app (Node, net.js) accepts a connection at 127.0.0.1:<host port>: what a health check waits for. */
async function reachableOnce(h: Harness, b: Backend | null): Promise<number> {
  const plain = await h.instance('exec node /home/vcap/app/net.js');
  await writeFile(join(plain.dir, 'app', 'net.js'), NET_APP);
  const sized = { ...plain, limits: { ...plain.limits, memMb: 256, nproc: 256 } };
  const hostPort = b === null ? await freePort() : 0;
  const spec = b === null ? { ...sized, env: [...sized.env.filter(([k]) => k !== 'PORT'), ['PORT', String(hostPort)] as [string, string]] } : await withNetwork(b, sized);
  const port = spec.network?.hostPort ?? hostPort;
  const t0 = nowMs();
  const p = await (b?.backend ?? h.backend).launch(spec);
  try {
    await listening(port);
    return nowMs() - t0;
  } finally {
    await p.stop(1000);
    await p.destroy();
    if (b !== null) b.ports.release(port);
  }
}

async function untilReachable(h: Harness, cleanup: Cleanup): Promise<Record<string, unknown>> {
  const b = await networked(h, null);
  cleanup.defer('close the networked backend', () => b.backend.close());
  const net: number[] = [];
  const plain: number[] = [];
  progress(`until reachable: 1 warm-up + ${REACH_RUNS} rounds of (with network, without)`);
  for (let i = 0; i < REACH_RUNS + 1; i++) {
    const n = await reachableOnce(h, b);
    const p = await reachableOnce(h, null);
    if (i === 0) continue;
    net.push(n);
    plain.push(p);
  }
  const withNet = roundSummary(summarize(net));
  const without = roundSummary(summarize(plain));
  return { withNetwork: withNet, without, addedToMedianMs: Math.round((withNet.median - without.median) * 100) / 100 };
}

async function listening(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function shaped(h: Harness, rate: number, bytes: number, cleanup: Cleanup): Promise<Record<string, unknown>> {
  const b = await networked(h, { rate, burst: null });
  cleanup.defer('close the shaped backend', () => b.backend.close());
  const plain = await h.instance('exec node /home/vcap/app/net.js');
  await writeFile(join(plain.dir, 'app', 'net.js'), NET_APP);
  const spec = await withNetwork(b, { ...plain, limits: { ...plain.limits, memMb: 256, nproc: 256 } });
  const hostPort = spec.network?.hostPort ?? 0;
  const p = await b.backend.launch(spec);
  try {
    await listening(hostPort);
    const t0 = nowMs();
    await (await fetch(`http://127.0.0.1:${hostPort}/upload`, { method: 'POST', body: Buffer.alloc(bytes, 1) })).json();
    const inS = (nowMs() - t0) / 1000;
    const t1 = nowMs();
    await (await fetch(`http://127.0.0.1:${hostPort}/download?bytes=${bytes}`)).arrayBuffer();
    const outS = (nowMs() - t1) / 1000;
    const pct = (s: number) => Math.round((bytes / s / rate) * 1000) / 10;
    return { rateBytesPerSec: rate, bytes, intoSeconds: Math.round(inS * 1000) / 1000, outOfSeconds: Math.round(outS * 1000) / 1000, intoPctOfRate: pct(inS), outOfPctOfRate: pct(outS) };
  } finally {
    await p.stop(1000);
    await p.destroy();
    b.ports.release(hostPort);
  }
}

async function main(cleanup: Cleanup): Promise<void> {
  const h = await containerHarness({ uidPoolSize: 64 });
  cleanup.defer('close the container harness', () => h.close());
  cleanup.defer('remove network leftovers', () => removeLeftovers(h.base));
  const overhead = await startOverhead(h, cleanup);
  const reachable = await untilReachable(h, cleanup);
  const shaping: Record<string, unknown>[] = [];
  for (const { rate, bytes } of SHAPED) {
    progress(`shaping: ${bytes / 1e6} MB each way at ${rate / 1e6} MB/s`);
    shaping.push(await shaped(h, rate, bytes, cleanup));
  }
  const results = { at: new Date().toISOString(), machine: { cpus: os.cpus().length, kernel: os.release(), node: process.version, load: os.loadavg()[0] }, overhead, reachableMs: reachable, shaping };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  const l = overhead.launchMs as { withNetwork: { median: number; p90: number }; without: { median: number; p90: number } };
  process.stdout.write(
    [
      'instance networks (median ms, p90 in brackets)',
      `  container launch with a network:    ${l.withNetwork.median} [${l.withNetwork.p90}]`,
      `  container launch without:           ${l.without.median} [${l.without.p90}]`,
      `  the network adds to the median:     ${String(overhead.addedToLaunchMedianMs)}`,
      `  until a Node app is reachable, with a network: ${(reachable.withNetwork as { median: number }).median}, without: ${(reachable.without as { median: number }).median} (adds ${String(reachable.addedToMedianMs)})`,
      ...shaping.map((s) => `  shaped ${Number(s.rateBytesPerSec) / 1e6} MB/s: into ${String(s.intoPctOfRate)} %, out of ${String(s.outOfPctOfRate)} % of the rate (payload)`),
      `written to ${path.relative(process.cwd(), RESULTS)}`,
      '',
    ].join('\n'),
  );
}

await runBench(main);

/**
 * `npm run bench`: start latency and 20 simultaneous starts against a real nats-server and
 * the real agent process. Prints a table and writes bench/results/latest.json.
 * See docs/performance.md for what is measured and how to read it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectTestClient } from '../test/support/bus-client.js';
import { buildDroplet, buildSyntheticDroplet, serveDroplets } from '../test/support/droplets.js';
import { startNatsServer } from '../test/support/nats-server.js';
import { BACKEND, concurrentStarts, startLatency, type ConcurrentRun, type StartLatencyRun } from './agent-bench.js';
import { Cleanup } from './cleanup.js';
import { concurrentBoot, directBootOnce, tarReference } from './direct.js';
import { cpuOf, foreignMeter, loadAvg1, sampleBusy, waitForQuiet } from './load.js';
import { epochNow, median, ms, round, roundSummary, summarize, table } from './stats.js';

const RUNS = 30;
const WARMUP = 3;
const INSTANCES = 20;
const CONCURRENT_RUNS = 3;
const TARGET_OVERHEAD_MS = 10;
const TARGET_CONCURRENT_MS = 3_000;

/** Below this machine-wide busy share the machine counts as quiet enough to start. */
const QUIET_BUSY = 0.25;
const QUIET_WAIT_MS = 30_000;

interface SectionLoad {
  /** Machine-wide busy share (0..1) during the section, the benchmark's own work included. */
  busy: number;
  /** Share (0..1) of the machine used by processes that are not the benchmark's. */
  foreign: number;
  loadAvg1Start: number;
  loadAvg1End: number;
}

let sectionPids: number[] = [];

function section(): () => SectionLoad {
  const stop = foreignMeter(sectionPids);
  const loadAvg1Start = loadAvg1();
  return () => {
    const l = stop();
    return { busy: round(l.busy, 3), foreign: round(l.foreign, 3), loadAvg1Start, loadAvg1End: loadAvg1() };
  };
}

/** Root of every temporary directory (agent base_dirs, droplets, tar targets). */
const TMP_ROOT = process.env['DEA_BENCH_TMPDIR'] ?? os.tmpdir();
/** A single extraction slower than this means the filesystem, not the agent, dominates. */
const SLOW_TAR_MS = 500;

/** The mount holding `dir` (longest mount-point prefix in /proc/mounts). */
function mountOf(dir: string): { mountPoint: string; fsType: string; options: string } {
  let best = { mountPoint: '/', fsType: 'unknown', options: '' };
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (mountPoint === undefined || fsType === undefined) continue;
    const inside = dir === mountPoint || dir.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && mountPoint.length >= best.mountPoint.length) best = { mountPoint, fsType, options: options ?? '' };
  }
  return best;
}

const RESULTS = fileURLToPath(new URL(BACKEND === 'process' ? './results/latest.json' : `./results/latest-${BACKEND}.json`, import.meta.url));

function progress(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

/** The agent code measured: HEAD, and whether src/, libexec/ or bin/ differ from it. */
function agentRevision(): { commit: string; uncommittedAgentChanges: boolean } {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const commit = version('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  const dirty = version('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'libexec', 'bin']);
  return { commit, uncommittedAgentChanges: dirty !== '' && dirty !== 'unknown' };
}

function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: os.release(),
    node: process.version,
    natsServer: version(process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server', ['--version']),
    tar: version('tar', ['--version']),
  };
}

function phaseSummary(runs: StartLatencyRun[]) {
  const pick = (f: (r: StartLatencyRun) => number) => roundSummary(summarize(runs.map(f)));
  return {
    publishToStarting: pick((r) => r.toStartingMs),
    startingToLaunched: pick((r) => r.prepareMs),
    launchedToRunning: pick((r) => r.bootMs),
    runningToRegisterSent: pick((r) => r.runningToSentMs),
    registerSentToReceived: pick((r) => r.sentToReceivedMs),
  };
}

async function main(cleanup: Cleanup): Promise<void> {
  const startedAt = epochNow();
  const tmpRoot = await realpath(TMP_ROOT);
  const fs = mountOf(tmpRoot);
  progress(`temporary directories under ${tmpRoot} (${fs.fsType} on ${fs.mountPoint}, ${fs.options})`);
  const work = await mkdtemp(path.join(tmpRoot, 'dea-bench-'));
  cleanup.defer(`remove ${work}`, () => rm(work, { recursive: true, force: true }));

  let busySamples = 0;
  const quiet = await waitForQuiet(QUIET_BUSY, QUIET_WAIT_MS, (busy) => {
    if (busySamples++ % 5 === 0) progress(`machine is ${(busy * 100).toFixed(0)} % busy before the bench (load ${loadAvg1()}); waiting up to ${QUIET_WAIT_MS / 1000} s for quiet`);
  });
  const busyBefore = quiet[quiet.length - 1] ?? 0;
  progress(`machine busy before the bench: ${(busyBefore * 100).toFixed(0)} % of ${os.cpus().length} CPUs (load ${loadAvg1()})`);

  progress('starting nats-server and building droplets');
  const nats = await startNatsServer();
  cleanup.defer('stop nats-server', () => nats.stop());
  sectionPids = nats.pid !== undefined ? [nats.pid] : [];
  const bus = await connectTestClient(nats.url, { name: 'bench' });
  cleanup.defer('close bus client', () => bus.close());

  const smallDir = path.join(work, 'small');
  const web = await buildDroplet('serves-http', smallDir);
  const files = await serveDroplets(smallDir);
  cleanup.defer('close droplet server', () => files.close());
  const bigDir = path.join(work, 'big');
  const b0 = epochNow();
  const big = await buildSyntheticDroplet({}, bigDir);
  progress(`synthetic droplet: ${(big.size / 2 ** 20).toFixed(1)} MiB, built in ${ms(epochNow() - b0, 0)}`);

  // 1. The agent's start latency, each start preceded by one direct boot of the same app
  // (node server.js, then ./startup): interleaved, so both see the same machine.
  // Booted from the built droplet, not fixtures/apps: the droplet carries fixture-core.js.
  const appDir = path.join(work, 'direct-serves-http');
  await mkdir(appDir);
  execFileSync('tar', ['-xzf', web.path, '-C', appDir, '--no-same-owner']);
  const directNode: number[] = [];
  const directStartup: number[] = [];
  progress(`start latency: ${WARMUP} warm-up + ${RUNS} rounds of (node server.js, ./startup, agent start of the cached droplet)`);
  const s1 = section();
  const lat = await startLatency({
    natsUrl: nats.url,
    bus,
    tmpRoot,
    droplet: web,
    files,
    runs: RUNS,
    warmup: WARMUP,
    beforeEach: async (i) => {
      const a = await directBootOnce(appDir, 'node server.js');
      const b = await directBootOnce(appDir, './startup -p PORT');
      if (i >= WARMUP) {
        directNode.push(a);
        directStartup.push(b);
      }
    },
  });
  const latLoad = s1();

  // 2. Floors for the concurrent case, without the agent.
  progress(`reference: GNU tar on the synthetic droplet (3 single, ${INSTANCES} parallel), ${INSTANCES} node boots at once`);
  const s2 = section();
  const c0 = cpuOf(process.pid).reapedChildrenMs;
  const tarRef = await tarReference(big.path, 3, INSTANCES);
  if (median(tarRef.singleMs) > SLOW_TAR_MS) {
    progress(
      `WARNING: one GNU tar extraction took ${ms(median(tarRef.singleMs), 0)} (A5 measured 0.18-0.20 s): the filesystem under ${tmpRoot} is slow right now; the 20-start figures will show it`,
    );
  }
  const c1 = cpuOf(process.pid).reapedChildrenMs;
  const smallTar = await tarReference(web.path, 20, 0);
  const c1b = cpuOf(process.pid).reapedChildrenMs;
  const boot20 = await concurrentBoot(appDir, INSTANCES);
  const c2 = cpuOf(process.pid).reapedChildrenMs;
  const refLoad = s2();
  // CPU of the reaped children: 3 + INSTANCES tar runs, then INSTANCES node boots (killed once accepting).
  const tarCpuEachMs = (c1 - c0) / (3 + INSTANCES);
  const nodeBootCpuEachMs = (c2 - c1b) / INSTANCES;
  const smallTarCpuEachMs = (c1b - c1) / 20;

  // 3. 20 simultaneous starts of the uncached synthetic droplet, 3 fresh agents.
  const concurrent: ConcurrentRun[] = [];
  const concLoad: SectionLoad[] = [];
  for (let r = 0; r < CONCURRENT_RUNS; r++) {
    progress(`agent: ${INSTANCES} simultaneous starts of the uncached synthetic droplet, run ${r + 1}/${CONCURRENT_RUNS}`);
    const s3 = section();
    concurrent.push(
      await concurrentStarts({ natsUrl: nats.url, bus, tmpRoot, droplet: big, serve: () => serveDroplets(bigDir), instances: INSTANCES, runLabel: String(r + 1) }),
    );
    concLoad.push(s3());
  }

  // Figures.
  const agentS = summarize(lat.runs.map((r) => r.totalMs));
  const nodeS = summarize(directNode);
  const startupS = summarize(directStartup);
  const overhead = agentS.median - nodeS.median;
  const paired = summarize(lat.runs.map((r, i) => r.totalMs - (directNode[i] ?? Number.NaN)));
  const concMedian = median(concurrent.map((c) => c.allRunningMs));

  const results = {
    date: new Date().toISOString(),
    backend: BACKEND,
    machine: machine(),
    agent: agentRevision(),
    filesystem: { dir: tmpRoot, ...fs },
    startLatency: {
      what: `publish dea.<id>.start → router.register received; cached serves-http droplet; ${RUNS} starts, each a distinct app stopped before the next; ${WARMUP} warm-up starts dropped (the first downloads)`,
      agent: roundSummary(agentS),
      directNodeServerJs: roundSummary(nodeS),
      directStartupScript: roundSummary(startupS),
      overheadMedianMs: round(overhead),
      overheadOverStartupScriptMs: round(agentS.median - startupS.median),
      pairedDifferenceAgentMinusNode: roundSummary(paired),
      agentCpuPerStartStopMs: { self: round(lat.cpuPerCycle.selfMs), reapedChildren: round(lat.cpuPerCycle.reapedChildrenMs) },
      agentIdleCpuMsPerSec: round(lat.idleCpuMsPerSec),
      agentCpuPerStartMs: roundSummary(summarize(lat.runs.map((r) => r.agentCpuMs))),
      load: latLoad,
      targetOverheadMs: TARGET_OVERHEAD_MS,
      targetMet: overhead < TARGET_OVERHEAD_MS,
      phasesFromAgentLogs: phaseSummary(lat.runs),
      warmupMs: lat.warmup.map((r) => round(r.totalMs)),
      samplesMs: lat.runs.map((r) => round(r.totalMs)),
      directNodeSamplesMs: directNode.map((x) => round(x)),
    },
    concurrentStarts: {
      what: `${INSTANCES} start messages for one app (same sha1, indices 0..${INSTANCES - 1}) published back to back to a fresh agent (empty cache) → ${INSTANCES} router.register received`,
      droplet: { bytes: big.size, files: 3000, blobMiB: 20, sha1: big.sha1 },
      targetMs: TARGET_CONCURRENT_MS,
      medianMs: round(concMedian),
      targetMet: concurrent.every((c) => c.allRunningMs < TARGET_CONCURRENT_MS),
      runs: concurrent.map((c, i) => ({
        ...Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])),
        load: concLoad[i],
      })),
    },
    reference: {
      tarSingleMs: tarRef.singleMs.map((x) => round(x)),
      tarSingleMedianMs: round(median(tarRef.singleMs)),
      [`tar${INSTANCES}ParallelWallMs`]: round(tarRef.parallelMs),
      [`node${INSTANCES}ConcurrentBootWallMs`]: round(boot20),
      tarCpuEachMs: round(tarCpuEachMs),
      smallTarMs: roundSummary(summarize(smallTar.singleMs)),
      smallTarCpuEachMs: round(smallTarCpuEachMs),
      nodeBootCpuEachMs: round(nodeBootCpuEachMs),
      load: refLoad,
    },
    machineBusyBeforeBench: quiet.map((b) => round(b, 3)),
    machineBusyAfterBench: 0,
    benchWallSeconds: 0,
  };

  const out = process.stdout;
  out.write(`\nAgent at ${results.agent.commit}${results.agent.uncommittedAgentChanges ? ' plus uncommitted changes in src/libexec/bin' : ''}; Node ${process.version}; ${os.cpus().length} CPUs`);
  out.write(`\nTemporary directories (agent base_dirs, droplets): ${tmpRoot}, ${fs.fsType} on ${fs.mountPoint} (${fs.options})\n`);
  out.write(`\nStart latency (cached serves-http droplet, ${BACKEND} backend)\n`);
  out.write(
    table(
      ['', 'n', 'median', 'p90', 'min', 'max'],
      (
        [
          ['agent: publish start → router.register', agentS],
          ['app alone: spawn node server.js → accepts', nodeS],
          ['app alone: spawn ./startup -p PORT → accepts', startupS],
        ] as const
      ).map(([label, v]) => [label, String(v.n), ms(v.median), ms(v.p90), ms(v.min), ms(v.max)]),
    ),
  );
  out.write(`\nmedian of paired differences (agent − node server.js, same round): ${ms(paired.median)}, p90 ${ms(paired.p90)}`);
  out.write(
    `\nagent overhead (median agent − median node server.js): ${ms(overhead)}  target < ${TARGET_OVERHEAD_MS} ms: ${overhead < TARGET_OVERHEAD_MS ? 'MET' : `MISSED by ${ms(overhead - TARGET_OVERHEAD_MS)}`}\n`,
  );
  out.write(
    `\nagent CPU (all its threads) from publish to register: median ${ms(median(lat.runs.map((r) => r.agentCpuMs)))}` +
    `\nagent CPU per start+stop cycle: ${ms(lat.cpuPerCycle.selfMs)} own, ${ms(lat.cpuPerCycle.reapedChildrenMs)} reaped children (tar, supervisor shells incl. the app); idle: ${ms(lat.idleCpuMsPerSec)} per second\n`,
  );
  const ph = results.startLatency.phasesFromAgentLogs;
  out.write('\nWhere the start goes (agent log times, 1 ms resolution; medians / p90)\n');
  out.write(
    table(
      ['phase', 'median', 'p90'],
      (
        [
          ['publish → STARTING (bus + parse)', ph.publishToStarting],
          ['STARTING → launched (cache hit, mkdir, tar, spawn)', ph.startingToLaunched],
          ['launched → RUNNING (app boot + probe)', ph.launchedToRunning],
          ['RUNNING → router.register sent', ph.runningToRegisterSent],
          ['router.register sent → received', ph.registerSentToReceived],
        ] as const
      ).map(([label, v]) => [label, ms(v.median), ms(v.p90)]),
    ),
  );
  out.write(`\n\n${INSTANCES} simultaneous starts of the uncached ${(big.size / 2 ** 20).toFixed(1)} MiB / 3,000-file droplet (target < ${TARGET_CONCURRENT_MS} ms)\n`);
  out.write(
    table(
      ['run', 'all RUNNING', 'HTTP reqs', 'download', 'first launched', 'last launched', 'last RUNNING', 'agent CPU', 'tar CPU', 'RSS after', 'RSS idle'],
      concurrent.map((c, i) => [
        String(i + 1),
        ms(c.allRunningMs, 0),
        String(c.dropletRequests),
        ms(c.downloadMs, 0),
        ms(c.firstLaunchedAtMs, 0),
        ms(c.lastLaunchedAtMs, 0),
        ms(c.lastRunningAtMs, 0),
        ms(c.agentCpuMs, 0),
        ms(c.tarCpuMs, 0),
        `${(c.rssAfterKb / 1024).toFixed(1)} MiB`,
        `${(c.rssIdleKb / 1024).toFixed(1)} MiB`,
      ]),
    ),
  );
  out.write(
    `\nmedian ${ms(concMedian, 0)}; target ${results.concurrentStarts.targetMet ? 'MET' : `MISSED (median over by ${ms(concMedian - TARGET_CONCURRENT_MS, 0)})`}\n`,
  );
  out.write('\nReference, without the agent\n');
  out.write(
    table(
      ['what', 'wall'],
      [
        ['GNU tar -xzf of the synthetic droplet, one (median of 3)', ms(median(tarRef.singleMs), 0)],
        [`GNU tar -xzf, ${INSTANCES} at once`, ms(tarRef.parallelMs, 0)],
        [`${INSTANCES} × node server.js at once, until all accept`, ms(boot20, 0)],
        ['CPU per tar extraction (user+sys)', ms(tarCpuEachMs, 0)],
        ['GNU tar -xzf of the small serves-http droplet (median of 20)', ms(median(smallTar.singleMs), 1)],
        ['CPU per node server.js boot until accepting (user+sys)', ms(nodeBootCpuEachMs, 0)],
      ],
    ),
  );
  const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
  out.write(
    `\n\nOther people's processes used (share of all ${os.cpus().length} CPUs): before the bench ${pct(busyBefore)}, during start latency ${pct(latLoad.foreign)}, reference ${pct(refLoad.foreign)}, 20 starts ${concLoad.map((l) => pct(l.foreign)).join(' / ')}`,
  );
  results.machineBusyAfterBench = round(await sampleBusy(1_000), 3);
  out.write(`; machine busy after ${pct(results.machineBusyAfterBench)} (load ${loadAvg1()})\n`);
  results.benchWallSeconds = round((epochNow() - startedAt) / 1000, 1);
  await mkdir(path.dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  out.write(`\n\nwrote ${path.relative(process.cwd(), RESULTS)} (bench ran ${results.benchWallSeconds} s)\n`);
}

const cleanup = new Cleanup();
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    interrupted = true;
    progress(`${sig}: cleaning up`);
    void cleanup.run().then(() => process.exit(130));
  });
}
try {
  await main(cleanup);
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
} finally {
  if (!interrupted) {
    progress('cleaning up');
    await cleanup.run();
  }
}

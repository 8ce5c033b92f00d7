/**
 * The monitor end to end: N sleeping instances (N = 50, 200, 500) started through the real
 * agent over a real nats-server, each with 2,000 files in 20 directories; the monitor's
 * own tick cost as the agent publishes it in varz, the agent's RSS, and in the same run
 * the original DEA's approach (one `ps axo pid=,ppid=,pcpu=,rss=,user=` plus `du -sk`
 * over the instance directories), parsed.
 *   npm run build && node --import tsx bench/monitor-agent.ts
 * Writes bench/results/monitor-agent.json. Stops everything it started.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, startMessage } from '../test/support/agent-process.js';
import { connectTestClient } from '../test/support/bus-client.js';
import { packDirectory, serveDroplets } from '../test/support/droplets.js';
import { startNatsServer } from '../test/support/nats-server.js';
import { sleeperDroplet } from './sleeper.js';

const SIZES = (process.env.DEA_BENCH_SIZES ?? "50,200,500").split(",").map(Number);
const TICKS = 15;
const root = mkdtempSync(path.join(process.env.DEA_BENCH_TMPDIR ?? os.tmpdir(), 'dea-bench-mon-'));
// Apps run as an unprivileged user and must be able to reach base_dir below this.
chmodSync(root, 0o755);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function cpuOf(fn: () => void): { wallMs: number; cpuMs: number } {
  const t = performance.now();
  const before = readChildrenCpu();
  fn();
  return { wallMs: performance.now() - t, cpuMs: readChildrenCpu() - before };
}

/** CPU of children this process has reaped (ps, du), from /proc/self/stat, in ms. */
function readChildrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * 10;
}

async function main(): Promise<void> {
  sleeperDroplet(path.join(root, 'app'));
  const droplet = await packDirectory(path.join(root, 'app'), path.join(root, 'served', 'sleeper.tgz'));
  const files = await serveDroplets(path.join(root, 'served'));
  mkdirSync(path.join(root, 'base'), { mode: 0o755 });
  const nats = await startNatsServer();
  const bus = await connectTestClient(nats.url);
  const agent = await startAgent({
    natsUrl: nats.url,
    compiled: true,
    baseDir: path.join(root, 'base'),
    config: {
      logging: { level: 'info' },
      // The process backend, as in the first measurements (DEA_BENCH_BACKEND=container
      // for containers; their networks are off here: 500 need a bigger pool than the default).
      backend: { kind: process.env['DEA_BENCH_BACKEND'] ?? 'process', container: { network: { enabled: false } } },
      resources: { memory_mb: 1_000_000, disk_mb: 10_000_000 },
      instance: { nproc_limit: 8192 },
      monitor: { interval_ms: 2000 },
    },
  });
  const results: unknown[] = [];
  try {
    const [disc] = await bus.request('vcap.component.discover', {}, { expect: 1 });
    const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
    const varz = async () => (await (await fetch(`http://${disc.host}/varz`, { headers: auth })).json()) as Record<string, any>;
    let started = 0;
    const reg = bus.record('router.register');
    await reg.ready();
    for (const n of SIZES) {
      for (; started < n; started++) {
        bus.publish(`dea.${agent.id}.start`, startMessage({ droplet: `sleeper-${started}`, executableUri: files.url(droplet.path), sha1: droplet.sha1, uris: [], limits: { mem: 64, disk: 64, fds: 256 } }));
        if (started % 25 === 24) await reg.waitForCount(started + 1, undefined, 120_000);
      }
      await reg.waitForCount(n, undefined, 120_000);
      // Let every instance's first (full) disk listing pass: at most 30 s apart, staggered.
      await new Promise((r) => setTimeout(r, 32_000));
      // Then the agent's own record of its last 16 ticks, read once: polling varz (500
      // instances' worth) for every tick would add garbage of the bench's own to what is measured.
      await new Promise((r) => setTimeout(r, TICKS * 2000 + 2000));
      const v = await varz();
      const ticks: { wallMs: number; cpuMs: number; readCpuMs: number; readWallMs: number; diskCpuMs: number; diskWallMs: number; diskMeasured: number }[] = (
        v.monitor_recent as Record<string, number>[]
      )
        .filter((m) => m.instances! >= n)
        .slice(-TICKS)
        .map((m) => ({ wallMs: m.wallMs!, cpuMs: m.cpuMs!, readCpuMs: m.readCpuMs!, readWallMs: m.readWallMs!, diskCpuMs: m.diskCpuMs!, diskWallMs: m.diskWallMs!, diskMeasured: m.diskMeasured! }));
      if (ticks.length < TICKS) throw new Error(`only ${ticks.length} ticks with all ${n} instances`);
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${agent.child.pid}/status`, 'utf8'))?.[1]);
      const instDir = path.join(root, 'base', 'instances');
      const dirs = readdirSync(instDir).map((d) => path.join(instDir, d));
      const ps = cpuOf(() => {
        const out = execFileSync('ps', ['axo', 'pid=,ppid=,pcpu=,rss=,user='], { encoding: 'utf8', maxBuffer: 1 << 24 });
        out.split('\n').map((l) => l.trim().split(/\s+/).map(Number));
      });
      const du = cpuOf(() => {
        const out = execFileSync('du', ['-sk', ...dirs], { encoding: 'utf8', maxBuffer: 1 << 24 });
        out.split('\n').map((l) => Number(l.split('\t')[0]));
      });
      const row = {
        n,
        tickCpuMsMedian: median(ticks.map((t) => t.cpuMs)),
        tickWallMsMedian: median(ticks.map((t) => t.wallMs)),
        tickCpuMsMax: Math.max(...ticks.map((t) => t.cpuMs)),
        // the tick's phases: CPU and memory of every instance, then disk of those due
        tickReadCpuMsMedian: median(ticks.map((t) => t.readCpuMs)),
        tickReadWallMsMedian: median(ticks.map((t) => t.readWallMs)),
        tickDiskCpuMsMedian: median(ticks.map((t) => t.diskCpuMs)),
        tickDiskWallMsMedian: median(ticks.map((t) => t.diskWallMs)),
        tickDiskMeasuredMedian: median(ticks.map((t) => t.diskMeasured)),
        agentRssMiB: Math.round(rssKb / 102.4) / 10,
        psOnce: ps,
        duOnceOverAll: du,
        load1: os.loadavg()[0],
      };
      results.push(row);
      console.log(JSON.stringify(row));
    }
  } finally {
    for (let i = 0; i < SIZES[SIZES.length - 1]!; i++) bus.publish('dea.stop', { droplet: `sleeper-${i}` });
    await bus.flush();
    await agent.stop();
    await bus.close();
    await files.close();
    await nats.stop();
    rmSync(root, { recursive: true, force: true });
  }
  mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(path.join(import.meta.dirname, 'results', 'monitor-agent.json'), `${JSON.stringify({ date: new Date().toISOString(), results }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

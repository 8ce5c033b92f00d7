/**
 * What a restart costs (issue 12's benchmark): 50 instances started, the agent killed
 * with SIGKILL and started again on the same base_dir; measured from the restarted
 * agent's first log line to the first router.register it sends and to the 50th (all
 * adopted). And the snapshot's write cost per transition with 500 instances in it, on
 * the temp dir's filesystem. `DEA_BENCH_BACKEND=container` for containers.
 * Writes bench/results/adoption-<backend>.json; removes everything it made.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SnapshotStore, snapshotText, type SnapshotEntry } from '../src/snapshot/index.js';
import { startAgent, startMessage } from '../test/support/agent-process.js';
import { connectTestClient } from '../test/support/bus-client.js';
import { buildDroplet, serveDroplets } from '../test/support/droplets.js';
import { startNatsServer } from '../test/support/nats-server.js';
import { sweepCgroupRoot } from '../test/integration/container/harness.js';
import { BACKEND } from './agent-bench.js';
import { runBench, type Cleanup } from './cleanup.js';
import { epochNow, round, roundSummary, summarize } from './stats.js';

const INSTANCES = 50;
const SNAPSHOT_SIZE = 500;
const WRITES = 50;
const TMP = process.env['DEA_BENCH_TMPDIR'] ?? os.tmpdir();
const RESULTS = fileURLToPath(new URL(`./results/adoption-${BACKEND}.json`, import.meta.url));

function progress(line: string): void {
  process.stderr.write(`[bench:adoption ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function restart(cleanup: Cleanup): Promise<Record<string, number>> {
  const work = await mkdtemp(path.join(TMP, 'dea-bench-adopt-'));
  await chmod(work, 0o755); // apps run as an unprivileged user and must reach base_dir
  cleanup.defer(`remove ${work}`, () => rm(work, { recursive: true, force: true }));
  const cgroupRoot = `dea-bench-adopt-${process.pid}`;
  cleanup.defer('remove the cgroup root', () => sweepCgroupRoot(cgroupRoot));
  const nats = await startNatsServer();
  cleanup.defer('stop nats-server', () => nats.stop());
  const bus = await connectTestClient(nats.url, { name: 'bench-adoption' });
  cleanup.defer('close the bus client', () => bus.close());
  const web = await buildDroplet('serves-http', path.join(work, 'droplets'));
  const files = await serveDroplets(path.join(work, 'droplets'));
  cleanup.defer('close the droplet server', () => files.close());
  const config = { backend: { kind: BACKEND, container: { cgroup_root: cgroupRoot } }, resources: { memory_mb: 16_384 } };
  const baseDir = path.join(work, 'base');
  await mkdir(baseDir, { mode: 0o755 });
  const first = await startAgent({ natsUrl: nats.url, config, baseDir, compiled: true });
  cleanup.defer('kill the first agent', () => first.child.kill('SIGKILL'));
  const reg = bus.record('router.register');
  await reg.ready();
  progress(`starting ${INSTANCES} instances on the ${BACKEND} backend`);
  for (let i = 0; i < INSTANCES; i++) {
    bus.publish(`dea.${first.id}.start`, startMessage({ droplet: `adopt-${i}`, executableUri: files.url(web.path), sha1: web.sha1, limits: { mem: 64, disk: 64, fds: 256 } }));
  }
  await reg.waitForCount(INSTANCES, (m) => m.data.dea === first.id, 120_000);
  first.child.kill('SIGKILL');
  await first.exited;
  progress('agent killed; starting the next one on the same base_dir');
  const t0 = epochNow();
  const next = await startAgent({ natsUrl: nats.url, config, baseDir, compiled: true });
  cleanup.defer('stop the next agent', () => next.dispose());
  const firstLine = Date.parse(String(next.logs()[0]?.time ?? new Date(t0).toISOString()));
  const regs = await reg.waitForCount(INSTANCES, (m) => m.data.dea === next.id, 60_000);
  const adopted = next.logs().find((l) => l.event === 'agent.adopted');
  const at = regs.map((r) => r.receivedAt).sort((a, b) => a - b);
  return {
    instances: INSTANCES,
    firstLineToFirstRouteMs: round(at[0]! - firstLine),
    firstLineToAllRoutesMs: round(at[at.length - 1]! - firstLine),
    spawnToAllRoutesMs: round(at[at.length - 1]! - t0),
    adoptedRunning: Number(adopted?.running ?? 0),
  };
}

async function snapshotCost(cleanup: Cleanup): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(path.join(TMP, 'dea-bench-snapshot-'));
  cleanup.defer(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  const store = new SnapshotStore(path.join(dir, 'instances.json'));
  const entries: SnapshotEntry[] = Array.from({ length: SNAPSHOT_SIZE }, (_, i) => entry(i));
  const ms: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const t = performance.now();
    store.write(snapshotText(entries, Date.now()));
    ms.push(performance.now() - t);
  }
  return { instances: SNAPSHOT_SIZE, bytes: snapshotText(entries, 0).length, writeMs: roundSummary(summarize(ms)), filesystemDir: TMP };
}

function entry(i: number): SnapshotEntry {
  const id = i.toString(16).padStart(32, '0');
  return {
    instanceId: id, localId: id, privateInstanceId: id.repeat(2), state: 'RUNNING', stateTimestamp: 1, startingTimestamp: 1,
    uris: [`app-${i}.example.com`], version: 'v1', hostPort: 40_000 + i, dropletSha1: 'a'.repeat(40), exitStatus: -1, exitDescription: '',
    crashTimestamp: null, backend: 'process', handle: { runDir: `/var/vcap/data/dea/db/supervise/${id}`, supervisorPid: 1000 + i, supervisorStart: 123456 },
    spec: {
      applicationId: `app-${i}`, applicationVersion: 'v1', applicationName: `app-${i}`, instanceIndex: 0, ccPartition: 'default', uris: [`app-${i}.example.com`],
      stack: 'cflinuxfs4', dropletSha1: 'a'.repeat(40), dropletUri: 'http://cc.example.com/droplets/a', startCommand: null, healthCheckTimeoutSecs: null,
      limits: { memMb: 256, diskMb: 1024, fds: 16384 }, environment: [['FOO', 'bar']], services: [], vcapApplication: { name: `app-${i}` },
    },
  };
}

await runBench(async (cleanup) => {
  const adoption = await restart(cleanup);
  const snapshot = await snapshotCost(cleanup);
  const results = { at: new Date().toISOString(), backend: BACKEND, adoption, snapshot };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(
    `adoption (${BACKEND}): ${adoption.adoptedRunning}/${INSTANCES} adopted; first line → first route ${adoption.firstLineToFirstRouteMs} ms, → all ${adoption.firstLineToAllRoutesMs} ms (goal < 1 s)\n` +
      `snapshot of ${SNAPSHOT_SIZE} instances: ${(snapshot.bytes as number / 1024).toFixed(0)} KiB, write median ${(snapshot.writeMs as { median: number }).median} ms\n`,
  );
});

/**
 * The container backend's own costs, on this host's real cgroups:
 *  1. create + destroy of one container running /bin/true, beside the process backend
 *     launching the same and `runc run` of an equivalent OCI bundle (same limits,
 *     read-only rootfs, uid, namespaces), interleaved so all three see the same machine;
 *  2. the monitor's reading of N = 50 / 200 / 500 live containers (CPU + memory from the
 *     cgroup files through kept descriptors), CPU per pass.
 * Writes bench/results/container.json. Everything it makes is removed, also on failure.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessBackend } from '../src/backends/process/index.js';
import type { InstanceProcess, LaunchSpec } from '../src/backends/types.js';
import { systemClock } from '../src/platform/clock.js';
import { silentLogger } from '../src/platform/logger.js';
import { containerHarness, type Harness } from '../test/integration/container/harness.js';
import { Cleanup, runBench } from './cleanup.js';
import { round, roundSummary, summarize } from './stats.js';

const RUNS = 30;
const WARMUP = 3;
const SIZES = (process.env.DEA_BENCH_SIZES ?? "50,200,500").split(",").map(Number);
const PASSES = 20;
const RESULTS = fileURLToPath(new URL('./results/container.json', import.meta.url));
const LIBEXEC = fileURLToPath(new URL('../libexec', import.meta.url));

function progress(line: string): void {
  process.stderr.write(`[bench:container ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

const nowMs = () => performance.now();

/** launch → exec'd → exited → destroyed, for a container of /bin/true. */
async function containerOnce(h: Harness): Promise<{ launchMs: number; totalMs: number }> {
  const spec = await h.instance('exec /bin/true');
  const t0 = nowMs();
  const p = await h.backend.launch(spec);
  const launchMs = nowMs() - t0;
  await p.exited;
  await p.destroy();
  return { launchMs, totalMs: nowMs() - t0 };
}

async function processOnce(backend: ProcessBackend, h: Harness): Promise<{ launchMs: number; totalMs: number }> {
  const spec = await h.instance('exec /bin/true');
  const t0 = nowMs();
  const p = await backend.launch(spec);
  const launchMs = nowMs() - t0;
  await p.exited;
  await p.destroy();
  return { launchMs, totalMs: nowMs() - t0 };
}

/**
 * An OCI bundle with the same limits and the same root filesystem, `/`, read-only. runc
 * cannot pivot_root into `/` itself, so its rootfs is a bind mount of `/` (undone by the
 * cleanup).
 */
async function runcBundle(dir: string, cgroupPath: string, cleanup: Cleanup): Promise<string> {
  const bundle = path.join(dir, 'bundle');
  const rootfs = path.join(bundle, 'rootfs');
  await mkdir(rootfs, { recursive: true });
  execFileSync('mount', ['--bind', '/', rootfs]);
  cleanup.defer(`unmount ${rootfs}`, () => execFileSync('umount', [rootfs]));
  const config = {
    ociVersion: '1.0.2',
    process: { user: { uid: 100_001, gid: 100_001 }, args: ['/bin/true'], env: ['PATH=/usr/bin:/bin'], cwd: '/', rlimits: [{ type: 'RLIMIT_NOFILE', hard: 256, soft: 256 }], noNewPrivileges: true },
    root: { path: rootfs, readonly: true },
    hostname: 'bench',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] },
    ],
    linux: {
      cgroupsPath: cgroupPath,
      namespaces: ['pid', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
      resources: { memory: { limit: 128 * 2 ** 20, swap: 128 * 2 ** 20 }, cpu: { shares: 16 }, pids: { limit: 64 }, devices: [{ allow: false, access: 'rwm' }] },
    },
  };
  await writeFile(path.join(bundle, 'config.json'), JSON.stringify(config));
  return bundle;
}

/** Removes `/sys/fs/cgroup/<hierarchy>/<name>` (and its empty children) from every hierarchy. */
function removeEverywhere(name: string): void {
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const root = path.join('/sys/fs/cgroup', h, name);
    if (!existsSync(root)) continue;
    for (const child of readdirSync(root, { withFileTypes: true })) if (child.isDirectory()) rmdirSync(path.join(root, child.name));
    rmdirSync(root);
  }
}

function runcOnce(bundle: string, id: string): number {
  const t0 = nowMs();
  const r = spawnSync('runc', ['run', '--bundle', bundle, id], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`runc run exited ${r.status}`);
  return nowMs() - t0;
}

async function monitorPass(h: Harness, n: number, scope: Cleanup): Promise<Record<string, unknown>> {
  const procs: InstanceProcess[] = [];
  const inner = new Cleanup();
  try {
    for (let i = 0; i < n; i++) {
      const spec = await h.instance('exec sleep 3600', { limits: { memMb: 32, diskMb: 16, fds: 64, nproc: 16, cpuShares: 4 } });
      const p = await h.backend.launch(spec);
      procs.push(p);
      inner.defer('destroy container', () => p.destroy());
    }
    for (const p of procs) p.usage?.(); // open the descriptors, as the first tick does
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let pass = 0; pass < PASSES; pass++) {
      const c0 = process.cpuUsage();
      const w0 = nowMs();
      for (const p of procs) p.usage?.();
      wall.push(nowMs() - w0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    return { instances: n, cpuMsPerPass: roundSummary(summarize(cpu)), wallMsPerPass: roundSummary(summarize(wall)) };
  } finally {
    scope.defer('noop', () => undefined);
    await inner.run();
  }
}

async function main(cleanup: Cleanup): Promise<void> {
  const h = await containerHarness({ uidPoolSize: 1024 });
  cleanup.defer('close the container harness', () => h.close());
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'dea-bench-process-'));
  cleanup.defer('remove the process backend run dir', () => rm(runDir, { recursive: true, force: true }));
  const processBackend = new ProcessBackend({ runDir, libexecDir: LIBEXEC, clock: systemClock, logger: silentLogger() });
  const runcDir = await mkdtemp(path.join(os.tmpdir(), 'dea-bench-runc-'));
  cleanup.defer('remove the runc bundle', () => rm(runcDir, { recursive: true, force: true }));
  const hasRunc = spawnSync('runc', ['--version'], { stdio: 'ignore' }).status === 0;
  // runc makes its group in every hierarchy, cpuset, blkio and name=systemd included: a
  // root of its own, removed from all of them afterwards.
  const runcRoot = `dea-bench-runc-${process.pid}`;
  cleanup.defer('remove the runc cgroups', () => removeEverywhere(runcRoot));
  const bundle = hasRunc ? await runcBundle(runcDir, `/${runcRoot}/runc-bench`, cleanup) : null;
  if (!hasRunc) progress('runc is not installed: its column stays empty (apt-get install runc)');

  progress(`create + destroy: ${WARMUP} warm-up + ${RUNS} rounds of (container, process, runc)`);
  const container: { launchMs: number; totalMs: number }[] = [];
  const proc: { launchMs: number; totalMs: number }[] = [];
  const runc: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const c = await containerOnce(h);
    const p = await processOnce(processBackend, h);
    const r = bundle ? runcOnce(bundle, `dea-bench-${process.pid}-${i}`) : Number.NaN;
    if (i < WARMUP) continue;
    container.push(c);
    proc.push(p);
    runc.push(r);
  }
  const monitor: Record<string, unknown>[] = [];
  for (const n of SIZES) {
    progress(`monitor: ${n} live containers, ${PASSES} passes`);
    monitor.push(await monitorPass(h, n, cleanup));
  }
  const results = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, kernel: os.release(), node: process.version, runc: hasRunc ? execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0] : null },
    createDestroy: {
      containerLaunchMs: roundSummary(summarize(container.map((r) => r.launchMs))),
      containerTotalMs: roundSummary(summarize(container.map((r) => r.totalMs))),
      processLaunchMs: roundSummary(summarize(proc.map((r) => r.launchMs))),
      processTotalMs: roundSummary(summarize(proc.map((r) => r.totalMs))),
      runcRunMs: hasRunc ? roundSummary(summarize(runc)) : null,
    },
    monitor,
  };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  const cd = results.createDestroy;
  process.stdout.write(
    [
      'container backend (median ms, p90 in brackets)',
      `  container launch (until the app is exec'd): ${cd.containerLaunchMs.median} [${cd.containerLaunchMs.p90}]`,
      `  container create + run /bin/true + destroy: ${cd.containerTotalMs.median} [${cd.containerTotalMs.p90}]`,
      `  process backend, the same:                  ${cd.processTotalMs.median} [${cd.processTotalMs.p90}]`,
      `  runc run, the same:                         ${cd.runcRunMs?.median ?? 'n/a'} [${cd.runcRunMs?.p90 ?? 'n/a'}]`,
      ...monitor.map((m) => `  monitor read of ${String(m.instances).padStart(3)} containers: ${(m.cpuMsPerPass as { median: number }).median} ms CPU per pass`),
      `written to ${path.relative(process.cwd(), RESULTS)}`,
      '',
    ].join('\n'),
  );
  void round;
}

await runBench(main);

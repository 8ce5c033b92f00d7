/**
 * Cost of the monitor's measurement building blocks against what DEA v1 forked per tick.
 *   node --import tsx bench/monitor-readers.ts [--quick]
 * Part 1: N `sleep 600` processes; one sampling pass (ProcReader over every process tree)
 *         versus one `ps axo pid=,ppid=,pcpu=,rss=,user=` fork + parse.
 * Part 2: N instance directories of 2,000 files in 20 directories; DiskMeter full and
 *         incremental passes, the staggered schedule's average load, versus one `du -sk`.
 * Figures go to bench/results/monitor-readers.json. Everything created is removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CgroupReader, detectCgroups } from '../src/monitor/cgroup-reader.js';
import { DiskMeter } from '../src/monitor/disk-meter.js';
import { parseProcStat } from '../src/monitor/proc-parse.js';
import { ProcReader } from '../src/monitor/proc-reader.js';
import { childrenOf, sampleTree } from '../src/monitor/tree.js';

const QUICK = process.argv.includes('--quick');
const SIZES = QUICK ? [50] : [50, 200, 500];
const ITERATIONS = QUICK ? 11 : 41;
const FILES_PER_INSTANCE = 2000;
const DIRS_PER_INSTANCE = 20;
const TICK_MS = 2000;
const MAX_AGE_MS = 30_000;
const FULL_RESCAN_MS = 10 * 60_000;
const RESULTS = path.join(import.meta.dirname, 'results', 'monitor-readers.json');

// ---- measuring ------------------------------------------------------------------------

interface Cost {
  /** ms */
  wall: number;
  /** ms of this process's CPU plus that of children it reaped meanwhile (ps, du) */
  cpu: number;
}

/** CPU of reaped children so far (cutime + cstime of /proc/self/stat), ms. */
function childCpuMs(): number {
  const s = parseProcStat(readFileSync('/proc/self/stat', 'latin1'))!;
  return ((s.cutimeTicks + s.cstimeTicks) * 1000) / 100;
}

function measure(fn: () => void): Cost {
  const k0 = childCpuMs(); // outside the CPU window: it costs a read of /proc/self/stat
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 + childCpuMs() - k0 };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

interface Summary {
  wallMedian: number;
  wallP90: number;
  cpuMedian: number;
  cpuP90: number;
}

/** One warm-up run, then `n` measured runs. */
function repeat(n: number, fn: () => void): Summary {
  fn();
  const runs = Array.from({ length: n }, () => measure(fn));
  const w = runs.map((r) => r.wall);
  const c = runs.map((r) => r.cpu);
  return { wallMedian: r3(quantile(w, 0.5)), wallP90: r3(quantile(w, 0.9)), cpuMedian: r3(quantile(c, 0.5)), cpuP90: r3(quantile(c, 0.9)) };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

// A gc() to read retained heap, without asking for a command-line flag.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

// ---- cleanup --------------------------------------------------------------------------

const children: ChildProcess[] = [];
const tempDirs: string[] = [];

/** SIGKILLs the groups led by `pids` (all started here) and forgets them. */
function killGroups(pids: readonly number[]): void {
  const kill = new Set(pids);
  for (const c of children.filter((c) => kill.has(c.pid!))) {
    try {
      process.kill(-c.pid!, 'SIGKILL'); // each is its own group's leader
    } catch {
      // already gone
    }
    children.splice(children.indexOf(c), 1);
  }
}

function cleanup(): void {
  killGroups(children.map((c) => c.pid!));
  // rm -rf: far quicker than rmSync's recursive walk over a million files.
  for (const d of tempDirs.splice(0)) execFileSync('rm', ['-rf', '--one-file-system', d]);
}

process.on('SIGINT', () => {
  cleanup();
  void removeGroups().finally(() => process.exit(130));
});

/** Starts `sh -c script` detached (own process group), remembered for cleanup. */
function startDetached(cmd: string, args: string[]): number {
  const c = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  c.unref();
  children.push(c);
  return c.pid!;
}

async function waitExecd(pids: number[]): Promise<void> {
  // A freshly spawned child may still be the forked node image for a moment.
  for (let i = 0; i < 200; i++) {
    const pending = pids.filter((p) => !readFileSync(`/proc/${p}/stat`, 'latin1').includes('(sleep)'));
    if (pending.length === 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ---- part 1: CPU and memory sampling ----------------------------------------------------

function psPass(): number {
  const out = execFileSync('ps', ['axo', 'pid=,ppid=,pcpu=,rss=,user='], { encoding: 'utf8' });
  const byPid = new Map<number, { ppid: number; pcpu: number; rss: number }>();
  for (const line of out.split('\n')) {
    const [pid, ppid, pcpu, rss] = line.trim().split(/\s+/);
    if (pid) byPid.set(Number(pid), { ppid: Number(ppid), pcpu: Number(pcpu), rss: Number(rss) * 1024 });
  }
  return byPid.size;
}

async function sampling(n: number) {
  const pids = Array.from({ length: n }, () => startDetached('sleep', ['600']));
  await waitExecd(pids);
  const reader = new ProcReader();
  const cached = repeat(ITERATIONS, () => {
    for (const pid of pids) sampleTree(pid, reader);
  });
  const fds = reader.openCount();
  reader.closeAll();
  const uncached = repeat(ITERATIONS, () => {
    for (const pid of pids) {
      readFileSync(`/proc/${pid}/stat`, 'latin1');
      childrenOf(pid);
    }
  });
  const hostProcesses = psPass();
  const ps = repeat(ITERATIONS, psPass);
  const cgroups = await cgroupPass(pids);
  killGroups(pids);
  await removeGroups();
  return { n, hostProcesses, fdsHeld: fds, procReaderTree: cached, readFileSyncTree: uncached, psFork: ps, cgroupV1Reader: cgroups };
}

const groups: string[] = [];

/** The cgroup alternative: each process in its own v1 cpuacct and memory group, 4 files read per instance. */
async function cgroupPass(pids: number[]): Promise<{ everyRead: Summary; statEvery5: Summary } | null> {
  const layout = detectCgroups();
  const cpuacct = layout.v1.get('cpuacct');
  const memory = layout.v1.get('memory');
  if (cpuacct === undefined || memory === undefined) return null;
  const readers = pids.map((pid) => {
    const dirs = [cpuacct, memory].map((m) => path.join(m, `dea-bench-${process.pid}-${pid}`));
    for (const d of dirs) {
      mkdirSync(d);
      groups.push(d);
      writeFileSync(path.join(d, 'cgroup.procs'), String(pid));
    }
    return [new CgroupReader({ cpuacct: dirs[0], memory: dirs[1] }), new CgroupReader({ cpuacct: dirs[0], memory: dirs[1] }, { memoryStatEvery: 5 })];
  });
  const everyRead = repeat(ITERATIONS, () => {
    for (const [r] of readers) r!.read();
  });
  const statEvery5 = repeat(ITERATIONS, () => {
    for (const [, r] of readers) r!.read();
  });
  for (const r of readers.flat()) r.close();
  return { everyRead, statEvery5 };
}

/** rmdir the benchmark's groups once their processes are gone (EBUSY until then). */
async function removeGroups(): Promise<void> {
  for (let attempt = 0; groups.length > 0 && attempt < 100; attempt++) {
    for (const d of groups.splice(0)) {
      try {
        rmdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') groups.push(d);
      }
    }
    if (groups.length > 0) await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- part 2: disk ---------------------------------------------------------------------

/**
 * `count` instance directories of 2,000 files (100 B – 4 KB) in 20 subdirectories plus
 * logs/. The first is written here, the others copied from it by `cp -r` (only to build
 * the tree faster: file creation costs ~200 µs a file on this VM).
 */
function makeInstances(base: string, count: number): string[] {
  const blob = Buffer.alloc(4096, 7);
  const first = path.join(base, 'inst0');
  for (let d = 0; d < DIRS_PER_INSTANCE; d++) {
    const sub = path.join(first, 'app', `d${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < FILES_PER_INSTANCE / DIRS_PER_INSTANCE; f++) {
      writeFileSync(path.join(sub, `f${f}`), blob.subarray(0, 100 + ((f * 397 + d * 31) % 3997)));
    }
  }
  mkdirSync(path.join(first, 'logs'));
  writeFileSync(path.join(first, 'logs', 'stdout.log'), '');
  const dirs = Array.from({ length: count }, (_, i) => path.join(base, `inst${i}`));
  for (const dir of dirs.slice(1)) execFileSync('cp', ['-r', first, dir]);
  return dirs;
}

/** Moves directory mtimes a minute back so no directory counts as just-modified (racy). */
function ageDirs(dirs: string[]): void {
  const past = new Date(Date.now() - 60_000);
  for (const dir of dirs) {
    for (let d = 0; d < DIRS_PER_INSTANCE; d++) utimesSync(path.join(dir, 'app', `d${d}`), past, past);
    for (const p of [path.join(dir, 'app'), path.join(dir, 'logs'), dir]) utimesSync(p, past, past);
  }
}

/** One process per instance holding its logs/stdout.log open for append, like an app. */
async function startWriters(dirs: string[]): Promise<number[]> {
  const pids = dirs.map((d) => startDetached('sh', ['-c', `exec 3>>'${d}/logs/stdout.log'; exec sleep 600`]));
  await waitExecd(pids);
  return pids;
}

async function disk(all: string[], n: number) {
  const dirs = all.slice(0, n);
  const writers = await startWriters(dirs);
  const keys = dirs.map((_, i) => `i${i}`);
  const heap0 = heapMb();
  const meter = new DiskMeter({ fullRescanMs: FULL_RESCAN_MS });
  const now = Date.now();
  const full = measure(() => keys.forEach((k, i) => meter.measure(k, dirs[i]!, [writers[i]!], now)));
  const meterHeapMb = r3(heapMb() - heap0);
  ageDirs(dirs);
  keys.forEach((k, i) => meter.measure(k, dirs[i]!, [writers[i]!], now + 1000)); // re-lists the aged dirs once
  const s0 = meter.stats();
  const incremental = repeat(ITERATIONS, () => keys.forEach((k, i) => meter.measure(k, dirs[i]!, [writers[i]!], now + 2000)));
  const s1 = meter.stats();
  const perPass = (x: number) => r3(x / (ITERATIONS + 1) / n);
  // Passes after an append to each log and a new file in one directory per instance
  // (the changes are made outside the timed part).
  const changedRuns: Cost[] = [];
  for (let round = 1; round <= (QUICK ? 3 : 7); round++) {
    for (const d of dirs) {
      writeFileSync(path.join(d, 'logs', 'stdout.log'), Buffer.alloc(1000, 1), { flag: 'a' });
      writeFileSync(path.join(d, 'app', `d${round % DIRS_PER_INSTANCE}`, `new${round}`), 'x');
    }
    changedRuns.push(measure(() => keys.forEach((k, i) => meter.measure(k, dirs[i]!, [writers[i]!], now + 4000 + round * 2000))));
  }
  const changed = { cpuMedian: r3(quantile(changedRuns.map((r) => r.cpu), 0.5)), wallMedian: r3(quantile(changedRuns.map((r) => r.wall), 0.5)) };
  const du = repeat(QUICK ? 3 : 5, () => execFileSync('du', ['-sk', ...dirs], { maxBuffer: 1 << 24 }));
  const schedule = scheduled(dirs, writers);
  killGroups(writers);
  return {
    n,
    files: n * FILES_PER_INSTANCE,
    meterHeapMb,
    fullScanAll: full,
    fullScanPerInstanceCpuMs: r3(full.cpu / n),
    incrementalAll: incremental,
    incrementalPerInstanceCpuMs: r3(incremental.cpuMedian / n),
    incrementalPerInstanceSyscalls: {
      dirsStat: perPass(s1.dirsStat - s0.dirsStat),
      dirsRead: perPass(s1.dirsRead - s0.dirsRead),
      filesStat: perPass(s1.filesStat - s0.filesStat),
      fdsRead: perPass(s1.fdsRead - s0.fdsRead),
    },
    withChangesAll: changed,
    duAll: du,
    schedule,
  };
}

/**
 * Steady state of the real schedule in virtual time: 2 s ticks for 20 virtual minutes
 * (due() + measure() as the monitor loop would call them, back to back), CPU counted over
 * the second 10 minutes, which holds one full rescan per instance and the incremental
 * passes.
 */
function scheduled(dirs: string[], writers: number[]) {
  const meter = new DiskMeter({ fullRescanMs: FULL_RESCAN_MS });
  const keys = dirs.map((_, i) => `i${i}`);
  const index = new Map(keys.map((k, i) => [k, i]));
  const ticks = (2 * FULL_RESCAN_MS) / TICK_MS;
  const start = Date.now();
  let cpu = 0;
  let worstAge = 0;
  let maxTickCpu = 0;
  let startupMaxTickCpu = 0;
  for (let t = 0; t < ticks; t++) {
    const now = start + t * TICK_MS;
    const cost = measure(() => {
      for (const k of meter.due(keys, now, MAX_AGE_MS)) {
        const i = index.get(k)!;
        meter.measure(k, dirs[i]!, [writers[i]!], now);
      }
    });
    startupMaxTickCpu = Math.max(startupMaxTickCpu, t < MAX_AGE_MS / TICK_MS ? cost.cpu : 0);
    if (t < ticks / 2) continue;
    cpu += cost.cpu;
    maxTickCpu = Math.max(maxTickCpu, cost.cpu);
    for (const k of keys) worstAge = Math.max(worstAge, now - meter.last(k)!.measuredAtMs);
  }
  const seconds = FULL_RESCAN_MS / 1000;
  return {
    virtualSeconds: seconds,
    cpuMs: r3(cpu),
    percentOfOneCore: r3((cpu / (seconds * 1000)) * 100),
    maxTickCpuMs: r3(maxTickCpu),
    /** the first window, when every instance gets its first (complete) listing */
    startupMaxTickCpuMs: r3(startupMaxTickCpu),
    worstFigureAgeMs: worstAge,
  };
}

// ---- report ---------------------------------------------------------------------------

const pad = (s: string | number, w: number) => String(s).padStart(w);
const fmt = (x: number) => x.toFixed(2);

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0]!;
  const procs = [];
  for (const n of SIZES) procs.push(await sampling(n));
  const base = mkdtempSync(path.join(os.tmpdir(), 'dea-bench-disk-'));
  tempDirs.push(base);
  const all = makeInstances(base, Math.max(...SIZES));
  const disks = [];
  for (const n of SIZES) disks.push(await disk(all, n));
  const loadAfter = os.loadavg()[0]!;

  console.log('\nCPU + memory, one pass over N sleeping instances (ms; median / p90)');
  const pair = (a: number, b: number) => `${fmt(a)} / ${fmt(b)}`;
  console.log(
    `${pad('N', 4)} ${pad('ProcReader cpu', 16)} ${pad('wall', 14)} ${pad('readFileSync cpu', 18)} ${pad('ps fork cpu', 15)} ${pad('wall', 14)} ${pad('cgroup v1 cpu', 15)} ${pad('stat every 5th', 15)}`,
  );
  for (const p of procs) {
    const a = p.procReaderTree;
    const cg = p.cgroupV1Reader;
    console.log(
      `${pad(p.n, 4)} ${pad(pair(a.cpuMedian, a.cpuP90), 16)} ${pad(pair(a.wallMedian, a.wallP90), 14)} ` +
        `${pad(pair(p.readFileSyncTree.cpuMedian, p.readFileSyncTree.cpuP90), 18)} ` +
        `${pad(pair(p.psFork.cpuMedian, p.psFork.cpuP90), 15)} ${pad(pair(p.psFork.wallMedian, p.psFork.wallP90), 14)} ` +
        `${pad(cg ? pair(cg.everyRead.cpuMedian, cg.everyRead.cpuP90) : 'n/a', 15)} ${pad(cg ? pair(cg.statEvery5.cpuMedian, cg.statEvery5.cpuP90) : 'n/a', 15)}`,
    );
  }
  console.log(`\nDisk, N instances × ${FILES_PER_INSTANCE} files in ${DIRS_PER_INSTANCE} dirs (ms; warm cache)`);
  console.log(
    `${pad('N', 4)} ${pad('heap MB', 8)} ${pad('full/inst cpu', 14)} ${pad('incr/inst cpu', 14)} ${pad('changed/inst', 13)} ${pad('du -sk all cpu', 15)} ${pad('du wall', 9)} ${pad('schedule %core', 15)} ${pad('max tick', 9)} ${pad('startup tick', 13)} ${pad('worst age', 10)}`,
  );
  for (const d of disks) {
    console.log(
      `${pad(d.n, 4)} ${pad(fmt(d.meterHeapMb), 8)} ${pad(fmt(d.fullScanPerInstanceCpuMs), 14)} ${pad(fmt(d.incrementalPerInstanceCpuMs), 14)} ` +
        `${pad(fmt(d.withChangesAll.cpuMedian / d.n), 13)} ${pad(fmt(d.duAll.cpuMedian), 15)} ${pad(fmt(d.duAll.wallMedian), 9)} ` +
        `${pad(fmt(d.schedule.percentOfOneCore), 15)} ${pad(fmt(d.schedule.maxTickCpuMs), 9)} ${pad(fmt(d.schedule.startupMaxTickCpuMs), 13)} ` +
        `${pad(`${d.schedule.worstFigureAgeMs / 1000} s`, 10)}`,
    );
  }
  console.log(`\nload average (1 min): ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after, on ${os.cpus().length} CPUs`);

  mkdirSync(path.dirname(RESULTS), { recursive: true });
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, kernel: os.release(), node: process.version, loadAvg1Before: loadBefore, loadAvg1After: loadAfter },
    notes: [
      'ms; cpu = this process plus reaped children (ps, du); median and p90 of repeated runs after one warm-up',
      'procReaderTree: sampleTree() per instance: /proc/<pid>/stat and per-thread children files through kept fds',
      'readFileSyncTree: the same files opened, read and closed each time; psFork: one ps + parse for the whole host',
      'cgroupV1Reader: CgroupReader per instance (cpuacct.usage, memory.usage_in_bytes, memory.stat, memory.oom_control through kept fds), each process in its own groups; statEvery5: memory.stat on every 5th read',
      'meterHeapMb: heap the DiskMeter retains after its first pass over the N instances (after gc)',
      'disk: files 100 B – 4 KB, one writer process per instance holding logs/stdout.log open; warm page cache',
      `schedule: due()+measure() each ${TICK_MS} ms tick, max age ${MAX_AGE_MS} ms, full rescan every ${FULL_RESCAN_MS} ms; CPU over the second 10 virtual minutes`,
    ],
    quick: QUICK,
    sampling: procs,
    disk: disks,
    targets: {
      samplingCpuMsAt500: 3,
      diskPercentOfOneCoreAt500: 2,
      diskMaxAgeMs: MAX_AGE_MS,
    },
  };
  if (!QUICK) writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  console.log(QUICK ? '(quick run: results not written)' : `written ${path.relative(process.cwd(), RESULTS)}`);
}

try {
  await main();
} finally {
  cleanup();
  await removeGroups();
}

/**
 * Where the agent's memory goes (issue 16): the compiled agent over a real nats-server,
 * idle and then with N sleeping instances (default 500; each droplet has 2,000 files in 20
 * directories, as in bench/monitor-agent.ts) started through the bus. At each point: RSS
 * (samples over several monitor ticks), the V8 heap by space, external and array-buffer
 * memory, the non-heap rest of RSS from /proc/<pid>/smaps, and at N a V8 heap snapshot
 * read here into its top constructors (self size) and its top retainers (retained size over
 * the dominator tree). Also the agent's CPU and GC pauses per 2 s monitor tick and the start latency
 * (publish → router.register, 40 starts one at a time), so a change that saves memory can
 * be checked for what it costs.
 *   npm run bench:memory [-- --n 500] [--no-snapshot] [--keep-snapshot FILE] [--node-options "--max-semi-space-size=16"] [--agent-env MALLOC_ARENA_MAX=2]
 * Writes bench/results/memory.json. Stops and removes everything it started: instances, the
 * agent, nats-server, the droplet server, the temp dir, the agent's cgroups and mounts.
 */
import { sleeperDroplet } from './sleeper.js';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAgent, startMessage, unmountUnder, type AgentHandle } from '../test/support/agent-process.js';
import { connectTestClient } from '../test/support/bus-client.js';
import { packDirectory, serveDroplets } from '../test/support/droplets.js';
import { startNatsServer } from '../test/support/nats-server.js';
import { sweepCgroupRoot } from '../test/integration/container/harness.js';
import { runBench } from './cleanup.js';
import { cpuOf, loadAvg1 } from './load.js';
import { median } from './stats.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- varz and the snapshot are free-form JSON */

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const N = Number(arg('--n') ?? 500);
const SNAPSHOT = !process.argv.includes('--no-snapshot');
/** Where to keep the heap snapshot (for Chrome DevTools' Memory tab); by default it goes with the temp dir. */
const KEEP_SNAPSHOT = arg('--keep-snapshot');
const EXTRA_NODE_OPTIONS = arg('--node-options') ?? '';
/** More environment for the agent, KEY=VALUE,KEY=VALUE (e.g. MALLOC_ARENA_MAX=2). */
const AGENT_ENV = Object.fromEntries((arg('--agent-env') ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const LATENCY_STARTS = Math.min(40, N);
const TICK_MS = 2000;
const MiB = 1024 * 1024;
const mib = (bytes: number): number => Math.round((bytes / MiB) * 10) / 10;

/**
 * Loaded into the agent with --import (NODE_OPTIONS): on SIGWINCH (the agent uses USR1 and
 * USR2 itself) it writes its heap figures, and a heap snapshot when asked for one by a file.
 * It imports only node:fs and node:v8, both loaded by Node before any user code.
 */
const HOOK = `
import { existsSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';
const dir = process.env.DEA_MEM_BENCH_DIR;
if (dir) process.on('SIGWINCH', () => {
  const report = process.report.getReport();
  const out = {
    pid: process.pid,
    memoryUsage: process.memoryUsage(),
    heap: v8.getHeapStatistics(),
    spaces: v8.getHeapSpaceStatistics(),
    code: v8.getHeapCodeStatistics(),
    libuvHandles: report.libuv.length,
    libuvByType: report.libuv.reduce((m, h) => ((m[h.type] = (m[h.type] ?? 0) + 1), m), {}),
  };
  writeFileSync(dir + '/stats-' + process.pid + '.json.tmp', JSON.stringify(out));
  renameSync(dir + '/stats-' + process.pid + '.json.tmp', dir + '/stats-' + process.pid + '.json');
  if (existsSync(dir + '/want-snapshot')) {
    unlinkSync(dir + '/want-snapshot');
    v8.writeHeapSnapshot(dir + '/agent.heapsnapshot.tmp');
    renameSync(dir + '/agent.heapsnapshot.tmp', dir + '/agent.heapsnapshot');
  }
});
`;

const root = mkdtempSync(path.join(process.env.DEA_BENCH_TMPDIR ?? os.tmpdir(), 'dea-bench-mem-'));
// Apps run as an unprivileged user and must be able to reach base_dir below this.
chmodSync(root, 0o755);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** RSS of the agent split by what is mapped (/proc/<pid>/smaps), in MiB. */
function smapsBreakdown(pid: number): Record<string, number> {
  interface Mapping {
    start: number;
    end: number;
    perms: string;
    name: string;
    sizeKb: number;
    rssKb: number;
  }
  const maps: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, name: head[4]!, sizeKb: 0, rssKb: 0 });
      continue;
    }
    const m = maps[maps.length - 1];
    const size = /^Size:\s+(\d+) kB/.exec(line);
    if (m && size) m.sizeKb = Number(size[1]);
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (m && rss) m.rssKb = Number(rss[1]);
  }
  const out: Record<string, number> = {};
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    let kind: string;
    if (m.name === '[heap]') kind = 'malloc main arena ([heap])';
    else if (m.name === '[stack]') kind = 'main thread stack';
    else if (m.name.startsWith('[')) kind = `other ${m.name}`;
    else if (m.name.endsWith('/node') || m.name.includes('/bin/node')) kind = 'node binary (text, data, snapshot, ICU)';
    else if (m.name !== '') kind = 'shared libraries and other files';
    else if (m.perms.includes('x')) kind = 'anonymous executable (V8 code, JIT)';
    // A glibc thread arena: a 64 MiB reservation, its used head read-write and the rest PROT_NONE.
    else if (next && next.name === '' && next.perms.startsWith('---') && next.start === m.end && m.sizeKb + next.sizeKb === 65536) kind = 'malloc thread arenas';
    else if (m.sizeKb === 8192 || m.sizeKb === 8188) kind = 'thread stacks (8 MiB mappings)';
    else kind = 'anonymous (V8 heap pages, large malloc blocks, other)';
    out[kind] = (out[kind] ?? 0) + m.rssKb;
  });
  for (const k of Object.keys(out)) out[k] = Math.round((out[k]! / 1024) * 10) / 10;
  return out;
}

async function heapStats(dir: string, pid: number, snapshot: boolean): Promise<any> {
  const file = path.join(dir, `stats-${pid}.json`);
  rmSync(file, { force: true });
  if (snapshot) writeFileSync(path.join(dir, 'want-snapshot'), '');
  process.kill(pid, 'SIGWINCH');
  for (let i = 0; i < 600 && !existsSync(file); i++) await sleep(100);
  const s = JSON.parse(readFileSync(file, 'utf8'));
  if (snapshot) for (let i = 0; i < 1200 && !existsSync(path.join(dir, 'agent.heapsnapshot')); i++) await sleep(100);
  return s;
}

/** The figures the report prints: V8 heap by space, and the rest of RSS. */
function summarise(rssSamplesKb: number[], s: any, smaps: Record<string, number>): Record<string, unknown> {
  const spaces: Record<string, { usedMiB: number; committedMiB: number }> = {};
  for (const sp of s.spaces) spaces[sp.space_name] = { usedMiB: mib(sp.space_used_size), committedMiB: mib(sp.physical_space_size) };
  const rss = median(rssSamplesKb) * 1024;
  return {
    rssMiB: { median: mib(rss), min: mib(Math.min(...rssSamplesKb) * 1024), max: mib(Math.max(...rssSamplesKb) * 1024), samples: rssSamplesKb.length },
    v8: {
      heapUsedMiB: mib(s.heap.used_heap_size),
      heapCommittedMiB: mib(s.heap.total_physical_size),
      heapReservedMiB: mib(s.heap.total_heap_size),
      spaces,
      bytecodeAndMetadataMiB: mib(s.code.bytecode_and_metadata_size),
      codeAndMetadataMiB: mib(s.code.code_and_metadata_size),
      nativeContexts: s.heap.number_of_native_contexts,
    },
    externalMiB: mib(s.memoryUsage.external),
    arrayBuffersMiB: mib(s.memoryUsage.arrayBuffers),
    rssOutsideV8HeapMiB: mib(s.memoryUsage.rss - s.heap.total_physical_size),
    smapsMiB: smaps,
    libuvHandles: s.libuvHandles,
    libuvByType: s.libuvByType,
  };
}

/** Top constructors by self size, and top retainers by retained size (dominator tree). */
export function analyseSnapshot(file: string, top = 25): { totalMiB: number; nodes: number; retainedByClass: unknown[]; byConstructor: unknown[]; topRetainers: unknown[] } {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const nf: string[] = meta.node_fields;
  const ef: string[] = meta.edge_fields;
  const nodeTypes: string[] = meta.node_types[0];
  const edgeTypes: string[] = meta.edge_types[0];
  const NF = nf.length;
  const EF = ef.length;
  const nodes: number[] = snap.nodes;
  const edges: number[] = snap.edges;
  const strings: string[] = snap.strings;
  const count = nodes.length / NF;
  const [iType, iName, iSelf, iEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => nf.indexOf(f)) as [number, number, number, number];
  const [eType, eTo] = ['type', 'to_node'].map((f) => ef.indexOf(f)) as [number, number];
  const weak = edgeTypes.indexOf('weak');
  const shortcut = edgeTypes.indexOf('shortcut');
  const firstEdge = new Uint32Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + iEdges]! * EF;
    firstEdge[i + 1] = e;
  }
  const self = (i: number) => nodes[i * NF + iSelf]!;
  const typeOf = (i: number) => nodeTypes[nodes[i * NF + iType]!]!;
  const nameOf = (i: number) => {
    const n = strings[nodes[i * NF + iName]!] ?? '';
    return n.length > 60 ? `${n.slice(0, 57)}...` : n;
  };
  let total = 0;
  const byCtor = new Map<string, { count: number; self: number }>();
  for (let i = 0; i < count; i++) {
    total += self(i);
    const t = typeOf(i);
    const key = t === 'object' || t === 'native' ? `${nameOf(i)} (${t})` : `(${t})`;
    const c = byCtor.get(key) ?? { count: 0, self: 0 };
    c.count++;
    c.self += self(i);
    byCtor.set(key, c);
  }
  // Dominators (Cooper, Harvey, Kennedy), over strong edges from the root (node 0).
  const succ = (i: number, fn: (j: number) => void) => {
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
      const t = edges[e + eType]!;
      if (t === weak || t === shortcut) continue;
      fn(edges[e + eTo]! / NF);
    }
  };
  const order = new Int32Array(count).fill(-1); // postorder number
  const post: number[] = [];
  const stack: Array<[number, number]> = [[0, firstEdge[0]!]];
  const seen = new Uint8Array(count);
  seen[0] = 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [i, e] = top;
    if (e < firstEdge[i + 1]!) {
      top[1] = e + EF;
      const t = edges[e + eType]!;
      if (t === weak || t === shortcut) continue;
      const j = edges[e + eTo]! / NF;
      if (!seen[j]) {
        seen[j] = 1;
        stack.push([j, firstEdge[j]!]);
      }
    } else {
      order[i] = post.length;
      post.push(i);
      stack.pop();
    }
  }
  const preds: number[][] = Array.from({ length: count }, () => []);
  for (let i = 0; i < count; i++) if (seen[i]) succ(i, (j) => preds[j]!.push(i));
  const idom = new Int32Array(count).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (order[a]! < order[b]!) a = idom[a]!;
      while (order[b]! < order[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = post.length - 2; k >= 0; k--) {
      const b = post[k]!;
      let d = -1;
      for (const p of preds[b]!) if (idom[p] !== -1) d = d === -1 ? p : intersect(p, d);
      if (d !== -1 && idom[b] !== d) {
        idom[b] = d;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(count);
  for (const i of post) retained[i] = self(i);
  for (const i of post) if (i !== 0) retained[idom[i]!] = retained[idom[i]!]! + retained[i]!;
  const chain = (i: number) => {
    const names: string[] = [];
    for (let j = idom[i]!, k = 0; j !== 0 && k < 4; j = idom[j]!, k++) names.push(`${nameOf(j)}(${typeOf(j)})`);
    return names.join(' < ');
  };
  const candidates = post.filter((i) => i !== 0 && typeOf(i) !== 'synthetic').sort((a, b) => retained[b]! - retained[a]!);
  // Retained size per class of object (Instance, ChildProcess, ...): the sum over its
  // objects, leaving out those inside another object of the same class.
  const byClass = new Map<string, { count: number; retained: number }>();
  for (const i of post) {
    if (i === 0 || typeOf(i) !== 'object') continue;
    const name = nameOf(i);
    if (name === 'Object' || name === 'Array' || name.startsWith('system /')) continue;
    let inside = false;
    for (let j = idom[i]!; j !== 0; j = idom[j]!) if (typeOf(j) === 'object' && nameOf(j) === name) inside = true;
    if (inside) continue;
    const c = byClass.get(name) ?? { count: 0, retained: 0 };
    c.count++;
    c.retained += retained[i]!;
    byClass.set(name, c);
  }
  return {
    totalMiB: mib(total),
    nodes: count,
    retainedByClass: [...byClass.entries()]
      .sort((a, b) => b[1].retained - a[1].retained)
      .slice(0, top)
      .map(([k, v]) => ({ what: k, count: v.count, retainedMiB: mib(v.retained), perObjectKiB: Math.round(v.retained / v.count / 102.4) / 10 })),
    byConstructor: [...byCtor.entries()]
      .sort((a, b) => b[1].self - a[1].self)
      .slice(0, top)
      .map(([k, v]) => ({ what: k, count: v.count, selfMiB: mib(v.self) })),
    topRetainers: candidates.slice(0, top).map((i) => ({
      what: `${nameOf(i)} (${typeOf(i)})`,
      retainedMiB: mib(retained[i]!),
      selfKiB: Math.round(self(i) / 102.4) / 10,
      dominatedBy: chain(i),
    })),
  };
}

async function main(): Promise<void> {
  await runBench(async (cleanup) => {
    cleanup.defer('remove the temp dir', () => rmSync(root, { recursive: true, force: true }));
    const hookDir = path.join(root, 'hook');
    mkdirSync(hookDir);
    const hook = path.join(hookDir, 'hook.mjs');
    writeFileSync(hook, HOOK);
    sleeperDroplet(path.join(root, 'app'));
    const droplet = await packDirectory(path.join(root, 'app'), path.join(root, 'served', 'sleeper.tgz'));
    const files = await serveDroplets(path.join(root, 'served'));
    cleanup.defer('stop the droplet server', () => files.close());
    const baseDir = path.join(root, 'base');
    mkdirSync(baseDir, { mode: 0o755 });
    const nats = await startNatsServer();
    cleanup.defer('stop nats-server', () => nats.stop());
    const bus = await connectTestClient(nats.url);
    cleanup.defer('close the bus client', () => bus.close());
    const cgroupRoot = `dea-mem-${process.pid}`;
    cleanup.defer('remove the agent cgroups', () => sweepCgroupRoot(cgroupRoot));
    cleanup.defer('unmount views left in the base dir', () => unmountUnder(baseDir));
    const agent: AgentHandle = await startAgent({
      natsUrl: nats.url,
      compiled: true,
      baseDir,
      env: { ...AGENT_ENV, NODE_OPTIONS: `--import=file://${hook} ${EXTRA_NODE_OPTIONS}`.trim(), DEA_MEM_BENCH_DIR: hookDir },
      config: {
        logging: { level: 'info' },
        backend: {
          kind: process.env['DEA_BENCH_BACKEND'] ?? 'process',
          container: { cgroup_root: cgroupRoot, network: { enabled: false } },
        },
        resources: { memory_mb: 1_000_000, disk_mb: 10_000_000 },
        instance: { nproc_limit: 8192 },
        monitor: { interval_ms: TICK_MS },
      },
    });
    cleanup.defer('stop the agent', async () => {
      for (let i = 0; i < N; i++) bus.publish('dea.stop', { droplet: `mem-${i}` });
      await bus.flush();
      await agent.dispose();
    });
    const pid = agent.child.pid!;
    const [disc] = await bus.request('vcap.component.discover', {}, { expect: 1 });
    const auth = { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };
    const varz = async () => (await (await fetch(`http://${disc.host}/varz`, { headers: auth })).json()) as Record<string, any>;

    /** GC pause time so far by kind (minor, major, ...), ms, from prom-client's default metrics. */
    const gcMs = async (): Promise<Record<string, number>> => {
      const text = await (await fetch(`http://${disc.host}/metrics`, { headers: auth })).text();
      const out: Record<string, number> = {};
      for (const m of text.matchAll(/^dea_agent_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} ([\d.e+-]+)$/gm)) out[m[1]!] = Number(m[2]) * 1000;
      return out;
    };

    /** RSS samples, the agent's CPU and its GC pauses per monitor tick over `ticks` ticks. */
    const observe = async (ticks: number, n: number) => {
      const samples: number[] = [];
      const tickCpu: number[] = [];
      let last = 0;
      const gc0 = await gcMs();
      const cpu0 = cpuOf(pid).selfMs;
      const t0 = performance.now();
      // RSS every 500 ms, varz (which costs the agent CPU too) once a tick.
      for (let k = 0; tickCpu.length < ticks; k++) {
        samples.push(rssKb(pid));
        if (k % 4 === 3) {
          const v = await varz();
          if (v.monitor && v.monitor.atMs !== last && v.monitor.instances >= n) {
            if (last !== 0) tickCpu.push(v.monitor.cpuMs);
            last = v.monitor.atMs;
          }
        }
        await sleep(500);
      }
      const elapsed = performance.now() - t0;
      const agentCpuMsPerTick = ((cpuOf(pid).selfMs - cpu0) / elapsed) * TICK_MS;
      const gc1 = await gcMs();
      const gcMsPerTick = Object.fromEntries(Object.entries(gc1).map(([k, v]) => [k, Math.round(((v - (gc0[k] ?? 0)) / elapsed) * TICK_MS * 100) / 100]));
      return { samples, monitorTickCpuMsMedian: median(tickCpu), agentCpuMsPerTick: Math.round(agentCpuMsPerTick * 10) / 10, gcMsPerTick };
    };

    const results: Record<string, unknown> = { date: new Date().toISOString(), n: N, nodeOptions: EXTRA_NODE_OPTIONS, agentEnv: AGENT_ENV, load1AtStart: loadAvg1() };
    // Idle: the agent as it stands after start and a few ticks (no instance).
    await sleep(5000);
    const idle = await observe(5, 0);
    const idleSmaps = smapsBreakdown(pid);
    results['idle'] = {
      ...summarise(idle.samples, await heapStats(hookDir, pid, SNAPSHOT && N === 0), idleSmaps),
      agentCpuMsPerTick: idle.agentCpuMsPerTick,
      gcPauseMsPerTick: idle.gcMsPerTick,
    };
    console.log(JSON.stringify({ idle: results['idle'] }, null, 1));

    if (N > 0) {
      const reg = bus.record('router.register');
      await reg.ready();
      const start = (i: number) =>
        bus.publish(`dea.${agent.id}.start`, startMessage({ droplet: `mem-${i}`, executableUri: files.url(droplet.path), sha1: droplet.sha1, uris: [], limits: { mem: 64, disk: 64, fds: 256 } }));
      // Start latency, one at a time (the first one fetches and unpacks the droplet: not counted).
      const latency: number[] = [];
      for (let i = 0; i < LATENCY_STARTS; i++) {
        const t = performance.now();
        start(i);
        await reg.waitForCount(i + 1, undefined, 60_000);
        if (i > 0) latency.push(performance.now() - t);
      }
      for (let i = LATENCY_STARTS; i < N; i++) {
        start(i);
        if (i % 25 === 24) await reg.waitForCount(i + 1, undefined, 120_000);
      }
      await reg.waitForCount(N, undefined, 300_000);
      // Let every instance's first (full) disk listing pass: at most 30 s apart, staggered.
      await sleep(32_000);
      const atN = await observe(20, N);
      const smaps = smapsBreakdown(pid);
      const stats = await heapStats(hookDir, pid, SNAPSHOT);
      results['atN'] = {
        ...summarise(atN.samples, stats, smaps),
        monitorTickCpuMsMedian: atN.monitorTickCpuMsMedian,
        agentCpuMsPerTick: atN.agentCpuMsPerTick,
        gcPauseMsPerTick: atN.gcMsPerTick,
        startLatencyMsMedian: Math.round(median(latency) * 10) / 10,
      };
      console.log(JSON.stringify({ atN: results['atN'] }, null, 1));
    }
    // The snapshot of the last point (N instances, or idle with --n 0).
    if (SNAPSHOT) {
      const file = path.join(hookDir, 'agent.heapsnapshot');
      if (KEEP_SNAPSHOT) copyFileSync(file, KEEP_SNAPSHOT);
      const snapshot = { fileMiB: mib(statSync(file).size), ...analyseSnapshot(file) };
      results['snapshot'] = snapshot;
      console.log(JSON.stringify({ snapshot }, null, 1));
    }
    results['load1AtEnd'] = loadAvg1();
    mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true });
    writeFileSync(path.join(import.meta.dirname, 'results', 'memory.json'), `${JSON.stringify(results, null, 2)}\n`);
  });
  // Whatever the agent made below its base dir is gone with the temp dir; its cgroups too.
  const left = readdirSync('/sys/fs/cgroup').flatMap((c) => {
    try {
      return readdirSync(path.join('/sys/fs/cgroup', c)).filter((d) => d.startsWith(`dea-mem-${process.pid}`));
    } catch {
      return [];
    }
  });
  if (left.length > 0) console.error(`left behind: cgroups ${left.join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

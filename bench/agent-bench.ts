/**
 * The agent measured from the outside: a real nats-server, the real `bin/dea` process,
 * start messages published on the bus and `router.register` as the finish line.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Subscription } from 'nats';
import { startAgent, startMessage, type AgentHandle, type AgentLogLine } from '../test/support/agent-process.js';
import type { TestBusClient } from '../test/support/bus-client.js';
import type { BuiltDroplet, DropletServer } from '../test/support/droplets.js';
import { eventually } from '../test/support/eventually.js';
import { Cleanup } from './cleanup.js';
import { cpuOf, threadsCpuMs, type ProcessCpu } from './load.js';
import { epochNow, median } from './stats.js';

/** The backend every benchmark agent runs (`DEA_BENCH_BACKEND`: process, the default, or container). */
export const BACKEND = process.env['DEA_BENCH_BACKEND'] === 'container' ? 'container' : 'process';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

interface Seen {
  readonly at: number;
  readonly data: any;
}

/** Records router.register / router.unregister with sub-millisecond arrival times. */
class RouterWatch {
  readonly registers: Seen[] = [];
  readonly unregisters: Seen[] = [];
  private readonly subs: Subscription[];
  private readonly waiters = new Set<{ check: () => void; fail: (e: Error) => void }>();

  constructor(private readonly bus: TestBusClient) {
    const on = (list: Seen[]) => (err: unknown, msg: { data: Uint8Array }) => {
      if (err) return;
      const at = epochNow();
      list.push({ at, data: JSON.parse(Buffer.from(msg.data).toString('utf8')) as unknown });
      for (const w of [...this.waiters]) w.check();
    };
    this.subs = [
      bus.nc.subscribe('router.register', { callback: on(this.registers) }),
      bus.nc.subscribe('router.unregister', { callback: on(this.unregisters) }),
    ];
  }

  ready(): Promise<void> {
    return this.bus.flush();
  }

  /**
   * Resolves with the first message of each of `n` distinct instances (by
   * private_instance_id) of `app` in `list`, once that many arrived. Distinct, because
   * the agent re-registers running instances every router_register_in_seconds.
   */
  waitFor(list: 'registers' | 'unregisters', app: string, n: number, timeoutMs: number): Promise<Seen[]> {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: (): void => {
          const hits = this.firstPerInstance(list, app);
          if (hits.length < n) return;
          this.waiters.delete(waiter);
          clearTimeout(timer);
          resolve(hits.slice(0, n));
        },
        fail: (e: Error): void => {
          this.waiters.delete(waiter);
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const got = this.firstPerInstance(list, app).length;
        waiter.fail(new Error(`${got}/${n} ${list} for ${app} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  private firstPerInstance(list: 'registers' | 'unregisters', app: string): Seen[] {
    const seen = new Map<string, Seen>();
    for (const s of this[list]) {
      const key = String(s.data?.private_instance_id);
      if (s.data?.app === app && !seen.has(key)) seen.set(key, s);
    }
    return [...seen.values()];
  }

  /** Unsubscribes; pending waits are rejected (their timers would keep the process alive). */
  stop(): void {
    for (const s of this.subs) {
      try {
        s.unsubscribe();
      } catch {
        // the connection is already closed
      }
    }
    for (const w of [...this.waiters]) w.fail(new Error('router watch stopped'));
  }
}

function logTime(l: AgentLogLine): number {
  return typeof l.time === 'string' ? Date.parse(l.time) : typeof l.time === 'number' ? l.time : Number.NaN;
}

/** Agent log times (ms resolution) of one instance's milestones. */
interface Milestones {
  readonly instanceId: string;
  readonly starting: number;
  readonly launched: number;
  readonly running: number;
  readonly registerSent: number;
}

function milestones(logs: AgentLogLine[], app: string): Milestones[] {
  const out: Milestones[] = [];
  for (const s of logs.filter((l) => l.event === 'instance.starting' && l.app_id === app)) {
    const id = s.instance_id;
    const at = (event: string): number => {
      const hit = logs.find((l) => l.event === event && l.instance_id === id);
      return hit ? logTime(hit) : Number.NaN;
    };
    out.push({
      instanceId: String(id),
      starting: logTime(s),
      launched: at('instance.launched'),
      running: at('instance.running'),
      registerSent: at('router.register.sent'),
    });
  }
  return out;
}

/** VmRSS and VmHWM of a process, in KiB. */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number; comm: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM'), comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() };
}

export type CpuTimes = ProcessCpu;

/** The agent's CPU: its own from its threads' schedstat (ns resolution), its reaped children's from /proc/<pid>/stat. */
function agentCpu(pid: number): CpuTimes {
  return { selfMs: threadsCpuMs(pid), reapedChildrenMs: cpuOf(pid).reapedChildrenMs };
}

function cpuDelta(a: CpuTimes, b: CpuTimes): CpuTimes {
  return { selfMs: b.selfMs - a.selfMs, reapedChildrenMs: b.reapedChildrenMs - a.reapedChildrenMs };
}

function instancesDir(agent: AgentHandle): string {
  return path.join(agent.baseDir, 'instances');
}

async function waitNoInstanceDirs(agent: AgentHandle, timeoutMs: number): Promise<void> {
  await eventually(async () => (await readdir(instancesDir(agent))).length === 0, timeoutMs, 'instance directories removed');
}

async function waitStopped(agent: AgentHandle, app: string, n: number, timeoutMs: number): Promise<void> {
  await eventually(
    () => agent.logs().filter((l) => l.event === 'instance.stopped' && l.app_id === app).length >= n,
    timeoutMs,
    `${n} instances of ${app} stopped`,
  );
}

/** Starts an agent whose process and base_dir `scope` removes again. */
async function agentIn(scope: Cleanup, natsUrl: string, tmpRoot: string, config: Record<string, unknown>): Promise<AgentHandle> {
  const baseDir = await mkdtemp(path.join(tmpRoot, 'dea-bench-agent-'));
  scope.defer(`remove ${baseDir}`, () => rm(baseDir, { recursive: true, force: true }));
  const agent = await startAgent({ natsUrl, config: { backend: { kind: BACKEND }, ...config }, baseDir, compiled: true });
  scope.defer(`stop agent ${agent.id}`, async () => {
    const timer = setTimeout(() => agent.child.kill('SIGKILL'), 20_000);
    await agent.stop();
    clearTimeout(timer);
  });
  return agent;
}

// ---------------------------------------------------------------------------------------

export interface StartLatencyRun {
  readonly app: string;
  /** publish → router.register received, ms (sub-ms resolution). */
  readonly totalMs: number;
  /** From agent log times (ms resolution): publish → STARTING, → launched, → RUNNING, → register sent, → received. */
  readonly toStartingMs: number;
  readonly prepareMs: number;
  readonly bootMs: number;
  readonly runningToSentMs: number;
  readonly sentToReceivedMs: number;
  /** The agent's own CPU (all threads) from publish to register received, ms. */
  readonly agentCpuMs: number;
}

export interface StartLatencyResult {
  readonly warmup: StartLatencyRun[];
  readonly runs: StartLatencyRun[];
  readonly agentPid: number;
  /**
   * Agent CPU over the measured rounds, per start+stop cycle (10 ms tick resolution, so
   * only meaningful as an average): its own, and its reaped children's (tar; the
   * supervising shells of stopped instances, which include the app's own CPU).
   */
  readonly cpuPerCycle: CpuTimes;
  /** The agent's own CPU while idle (timers only), ms per second, measured over 2 s before the first start. */
  readonly idleCpuMsPerSec: number;
}

/**
 * `warmup` + `runs` starts of the cached `serves-http` droplet, one at a time, each as a
 * distinct app and stopped (router.unregister, instance directory gone) before the next.
 * The first warm-up start downloads the droplet; every measured one is a cache hit.
 */
export async function startLatency(opts: {
  natsUrl: string;
  bus: TestBusClient;
  /** Where the agent's base_dir is made. */
  tmpRoot: string;
  droplet: BuiltDroplet;
  files: DropletServer;
  runs: number;
  warmup: number;
  /** Run before each start (with its index), e.g. the direct app boots, so both see the same machine. */
  beforeEach?: (i: number) => Promise<void>;
}): Promise<StartLatencyResult> {
  const scope = new Cleanup();
  const watch = new RouterWatch(opts.bus);
  scope.defer('router watch', () => watch.stop());
  try {
    const agent = await agentIn(scope, opts.natsUrl, opts.tmpRoot, { default_health_check_timeout: 30 });
    await watch.ready();
    const all: StartLatencyRun[] = [];
    const pid = agent.child.pid ?? -1;
    await new Promise((r) => setTimeout(r, 500)); // past the agent's start-up work
    const idle0 = threadsCpuMs(pid);
    await new Promise((r) => setTimeout(r, 2_000));
    const idleCpuMsPerSec = (threadsCpuMs(pid) - idle0) / 2;
    let cpu0 = agentCpu(pid);
    for (let i = 0; i < opts.warmup + opts.runs; i++) {
      if (i === opts.warmup) cpu0 = agentCpu(pid);
      await opts.beforeEach?.(i);
      const app = `lat-${String(i).padStart(2, '0')}`;
      const startCpu = threadsCpuMs(pid);
      const t0 = epochNow();
      opts.bus.publish(
        `dea.${agent.id}.start`,
        startMessage({ droplet: app, executableUri: opts.files.url(opts.droplet.path), sha1: opts.droplet.sha1 }),
      );
      const [reg] = await watch.waitFor('registers', app, 1, 20_000);
      const totalMs = reg!.at - t0;
      const agentCpuMs = threadsCpuMs(pid) - startCpu;
      opts.bus.publish('dea.stop', { droplet: app });
      await watch.waitFor('unregisters', app, 1, 20_000);
      await waitStopped(agent, app, 1, 20_000);
      await waitNoInstanceDirs(agent, 20_000);
      const [m] = milestones(agent.logs(), app);
      if (m === undefined) throw new Error(`no instance.starting log line for ${app}`);
      all.push({
        app,
        totalMs,
        toStartingMs: m.starting - t0,
        prepareMs: m.launched - m.starting,
        bootMs: m.running - m.launched,
        runningToSentMs: m.registerSent - m.running,
        sentToReceivedMs: reg!.at - m.registerSent,
        agentCpuMs,
      });
    }
    const used = cpuDelta(cpu0, agentCpu(pid));
    return {
      warmup: all.slice(0, opts.warmup),
      runs: all.slice(opts.warmup),
      agentPid: pid,
      cpuPerCycle: { selfMs: used.selfMs / opts.runs, reapedChildrenMs: used.reapedChildrenMs / opts.runs },
      idleCpuMsPerSec,
    };
  } finally {
    await scope.run();
  }
}

// ---------------------------------------------------------------------------------------

export interface ConcurrentRun {
  /** publish of the first start message → the last of the n router.register, ms. */
  readonly allRunningMs: number;
  readonly instances: number;
  /** Requests the droplet server saw for the droplet during this run. */
  readonly dropletRequests: number;
  /** `ms` of the agent's droplet.download.done line (download + SHA-1 + scan + commit). */
  readonly downloadMs: number;
  /** From the agent's log times, ms after publish. */
  readonly downloadDoneAtMs: number;
  readonly firstLaunchedAtMs: number;
  readonly medianLaunchedAtMs: number;
  readonly lastLaunchedAtMs: number;
  readonly firstRunningAtMs: number;
  readonly lastRunningAtMs: number;
  /** Per instance launched → RUNNING (app boot + probe), median / max. */
  readonly bootMedianMs: number;
  readonly bootMaxMs: number;
  readonly firstRegisterAtMs: number;
  /** The agent process's memory before the starts and right after the last register. */
  readonly rssIdleKb: number;
  readonly rssAfterKb: number;
  readonly hwmAfterKb: number;
  readonly agentComm: string;
  /**
   * CPU the agent used from the first publish to the last register, ms: its own, and its
   * reaped children's (the tar extractions; the apps' supervisors are still running).
   */
  readonly agentCpuMs: number;
  readonly tarCpuMs: number;
  /** dea.stop of all n → every instance directory removed, ms. */
  readonly stopAllMs: number;
}

/**
 * One run: a fresh agent (fresh base_dir, so nothing cached) and a fresh droplet server;
 * `n` start messages for one app (same SHA-1, indices 0..n-1) published back to back.
 */
export async function concurrentStarts(opts: {
  natsUrl: string;
  bus: TestBusClient;
  tmpRoot: string;
  droplet: BuiltDroplet;
  serve: () => Promise<DropletServer>;
  instances: number;
  runLabel: string;
}): Promise<ConcurrentRun> {
  const scope = new Cleanup();
  const watch = new RouterWatch(opts.bus);
  scope.defer('router watch', () => watch.stop());
  try {
    const files = await opts.serve();
    scope.defer('droplet server', () => files.close());
    const agent = await agentIn(scope, opts.natsUrl, opts.tmpRoot, {
      resources: { memory_mb: 8192, disk_mb: 32768 },
      default_health_check_timeout: 60,
    });
    const pid = agent.child.pid ?? -1;
    await watch.ready();
    // Let the agent finish starting up (first advert, status server) before measuring.
    await new Promise((r) => setTimeout(r, 300));
    const idle = memoryOf(pid);
    const app = `many-${opts.runLabel}`;
    const url = files.url(opts.droplet.path);
    const cpu0 = agentCpu(pid);
    const t0 = epochNow();
    for (let i = 0; i < opts.instances; i++) {
      opts.bus.publish(`dea.${agent.id}.start`, startMessage({ droplet: app, index: i, executableUri: url, sha1: opts.droplet.sha1 }));
    }
    const regs = await watch.waitFor('registers', app, opts.instances, 90_000);
    const allRunningMs = Math.max(...regs.map((r) => r.at)) - t0;
    const after = memoryOf(pid);
    const cpu = cpuDelta(cpu0, agentCpu(pid));
    const dropletRequests = files.requests(url);

    const s0 = epochNow();
    opts.bus.publish('dea.stop', { droplet: app });
    await waitStopped(agent, app, opts.instances, 60_000);
    await waitNoInstanceDirs(agent, 90_000);
    const stopAllMs = epochNow() - s0;

    // Read the logs only now: the agent writes them asynchronously, so the last lines of
    // the start phase may not have reached us at the moment of the last register.
    const logs = agent.logs();
    const done = logs.find((l) => l.event === 'droplet.download.done');
    const ms = milestones(logs, app);
    if (ms.length !== opts.instances) throw new Error(`${ms.length} instance.starting lines for ${app}, expected ${opts.instances}`);
    const rel = (x: number): number => x - t0;
    const launched = ms.map((m) => m.launched);
    const running = ms.map((m) => m.running);
    const boots = ms.map((m) => m.running - m.launched);

    return {
      allRunningMs,
      instances: regs.length,
      dropletRequests,
      downloadMs: typeof done?.ms === 'number' ? done.ms : Number.NaN,
      downloadDoneAtMs: done ? rel(logTime(done)) : Number.NaN,
      firstLaunchedAtMs: rel(Math.min(...launched)),
      medianLaunchedAtMs: rel(median(launched)),
      lastLaunchedAtMs: rel(Math.max(...launched)),
      firstRunningAtMs: rel(Math.min(...running)),
      lastRunningAtMs: rel(Math.max(...running)),
      bootMedianMs: median(boots),
      bootMaxMs: Math.max(...boots),
      firstRegisterAtMs: Math.min(...regs.map((r) => r.at)) - t0,
      rssIdleKb: idle.rssKb,
      rssAfterKb: after.rssKb,
      hwmAfterKb: after.hwmKb,
      agentComm: after.comm,
      agentCpuMs: cpu.selfMs,
      tarCpuMs: cpu.reapedChildrenMs,
      stopAllMs,
    };
  } finally {
    await scope.run();
  }
}

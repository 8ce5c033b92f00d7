import { constants } from 'node:os';
import type { Clock, TimerHandle } from '../../platform/clock.js';
import type { Backend, BackendHandle, ExitInfo, InstanceProcess, LaunchSpec } from '../types.js';

/**
 * A scripted backend for fast unit tests of the core, in the manner of Nomad's mock
 * driver: no process is ever started; each launch follows a script chosen from its
 * LaunchSpec, and every timed behaviour runs on the injected Clock (a virtual one in tests).
 */
export interface FakeScript {
  /** The app exits by itself this long (clock time) after launch; absent: it runs until stopped. */
  readonly exitAfterMs?: number;
  /** The status of that self-exit (default 0). */
  readonly exitStatus?: number;
  /** launch() rejects with this error and nothing runs. */
  readonly failLaunch?: Error;
  /** TERM is ignored; only the KILL after the grace ends the app. */
  readonly ignoreTerm?: boolean;
  /** The backend event reported with a self-exit (e.g. `out of memory`). */
  readonly event?: string;
  /** How many child processes the app has besides its main one (they show in pids()). */
  readonly children?: number;
  /**
   * The app's own pids, main first, then its children (instead of `children`): lets a test
   * know them from the app's side, the way a real app writes its pid to a file, rather than
   * from the backend under test.
   */
  readonly pids?: readonly number[];
}

/** Picks the script of one launch; `undefined` falls back to the default script. */
export type FakeScriptChooser = (spec: LaunchSpec) => FakeScript | undefined;

export interface FakeBackendOptions {
  readonly clock: Clock;
  /** The script for every launch, or a function of the LaunchSpec. Default: runs until stopped. */
  readonly script?: FakeScript | FakeScriptChooser;
  /** Used when the chooser returns undefined. */
  readonly defaultScript?: FakeScript;
}

export type FakeSignal = 'TERM' | 'KILL';

/** Everything the backend did, in order, for tests to assert. */
export type FakeEvent =
  | { readonly type: 'launch'; readonly instanceId: string; readonly pid: number }
  | { readonly type: 'launch-failed'; readonly instanceId: string; readonly error: string }
  | { readonly type: 'stop'; readonly instanceId: string; readonly graceMs: number }
  | { readonly type: 'signal'; readonly instanceId: string; readonly signal: FakeSignal }
  | { readonly type: 'exit'; readonly instanceId: string; readonly exitStatus: number; readonly event: string | null }
  | { readonly type: 'destroy'; readonly instanceId: string }
  | { readonly type: 'recover'; readonly instanceId: string | null };

const SIGNALS: Readonly<Record<FakeSignal, { readonly number: number; readonly name: string }>> = {
  TERM: { number: 15, name: 'SIGTERM' },
  KILL: { number: 9, name: 'SIGKILL' },
};
const FIRST_PID = 40_000;

/** The fake "kernel": processes outlive the backend object that launched them. */
export interface FakeWorld {
  readonly processes: Map<string, FakeProcess>;
  /** Pids of processes that run: launched, not yet ended (a destroyed instance's included until then). */
  readonly livePids: Set<number>;
  readonly events: FakeEvent[];
  readonly launches: LaunchSpec[];
  nextPid: number;
  nextId: number;
}

export class FakeBackend implements Backend {
  readonly kind = 'fake' as const;
  readonly instanceRoot = null;
  private readonly world: FakeWorld;

  constructor(
    private readonly opts: FakeBackendOptions,
    world?: FakeWorld,
  ) {
    this.world = world ?? { processes: new Map(), livePids: new Set(), events: [], launches: [], nextPid: FIRST_PID, nextId: 1 };
  }

  /**
   * The backend an agent started after this one would get: a new object over the same
   * processes, as a restarted agent finds the instances its predecessor left running.
   */
  successor(opts: Partial<FakeBackendOptions> = {}): FakeBackend {
    return new FakeBackend({ ...this.opts, ...opts }, this.world);
  }

  /** Every launch asked for, failed ones included, in order. */
  get launches(): readonly LaunchSpec[] {
    return this.world.launches;
  }

  get events(): readonly FakeEvent[] {
    return this.world.events;
  }

  /** `stop(graceMs)` calls, in order. */
  get stops(): { instanceId: string; graceMs: number }[] {
    return this.world.events.flatMap((e) => (e.type === 'stop' ? [{ instanceId: e.instanceId, graceMs: e.graceMs }] : []));
  }

  /** Signals delivered, in order. */
  get signals(): { instanceId: string; signal: FakeSignal }[] {
    return this.world.events.flatMap((e) => (e.type === 'signal' ? [{ instanceId: e.instanceId, signal: e.signal }] : []));
  }

  /** Processes launched and not yet destroyed, running or exited. */
  processes(): FakeProcess[] {
    return [...this.world.processes.values()];
  }

  /** The not-yet-destroyed process of an instance, if any. */
  process(instanceId: string): FakeProcess | undefined {
    return this.processes().find((p) => p.spec.instanceId === instanceId);
  }

  /** Processes that are still running. */
  alive(): FakeProcess[] {
    return this.processes().filter((p) => p.alive);
  }

  /** Whether a process with this pid runs, as kill(pid, 0) would tell on a real kernel. */
  running(pid: number): boolean {
    return this.world.livePids.has(pid);
  }

  async launch(spec: LaunchSpec): Promise<InstanceProcess> {
    this.world.launches.push(spec);
    const script = this.scriptFor(spec);
    if (script.failLaunch) {
      this.world.events.push({ type: 'launch-failed', instanceId: spec.instanceId, error: script.failLaunch.message });
      throw script.failLaunch;
    }
    const id = `fake-${this.world.nextId++}`;
    const pids = script.pids ? [...script.pids] : this.allocatePids(1 + Math.max(0, script.children ?? 0));
    const taken = pids.filter((p) => this.world.livePids.has(p));
    if (pids.length === 0 || taken.length > 0) throw new Error(`fake: scripted pids ${pids.join(',')} empty or already running`);
    const proc = new FakeProcess(id, spec, script, pids, this.opts.clock, this.world);
    for (const p of pids) this.world.livePids.add(p);
    this.world.processes.set(id, proc);
    this.world.events.push({ type: 'launch', instanceId: spec.instanceId, pid: proc.pid });
    return proc;
  }

  /** The same process object while the fake still knows it (alive, or exited with its status); else null. */
  async recover(handle: BackendHandle): Promise<InstanceProcess | null> {
    const id = handle.fakeId;
    const proc = typeof id === 'string' ? this.world.processes.get(id) : undefined;
    this.world.events.push({ type: 'recover', instanceId: proc?.spec.instanceId ?? null });
    return proc ?? null;
  }

  private allocatePids(n: number): number[] {
    const first = this.world.nextPid;
    this.world.nextPid += n;
    return Array.from({ length: n }, (_, i) => first + i);
  }

  private scriptFor(spec: LaunchSpec): FakeScript {
    const { script, defaultScript } = this.opts;
    const chosen = typeof script === 'function' ? script(spec) : script;
    return chosen ?? defaultScript ?? {};
  }
}

/** One scripted app. Tests may also drive it directly (`exit`, `signal`). */
export class FakeProcess implements InstanceProcess {
  readonly handle: BackendHandle;
  readonly exited: Promise<ExitInfo>;
  /** Signals this process received, in order. */
  readonly received: FakeSignal[] = [];
  private info: ExitInfo | null = null;
  private destroyed = false;
  private resolveExit!: (info: ExitInfo) => void;
  private readonly exitTimer: TimerHandle | null;

  constructor(
    readonly id: string,
    readonly spec: LaunchSpec,
    readonly script: FakeScript,
    /** The main pid, then the children's. */
    readonly ownPids: readonly number[],
    private readonly clock: Clock,
    private readonly world: FakeWorld,
  ) {
    this.handle = { fakeId: id, instanceId: spec.instanceId, pid: this.pid };
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
    const after = script.exitAfterMs;
    this.exitTimer =
      after === undefined ? null : clock.after(after, () => this.exit(script.exitStatus ?? 0, script.event ?? null));
  }

  get pid(): number {
    return this.ownPids[0] as number;
  }

  get alive(): boolean {
    return this.info === null;
  }

  /** How it ended, once it has. */
  get exitInfo(): ExitInfo | null {
    return this.info;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Ends the app now as if it exited by itself; no effect once it has ended. */
  exit(exitStatus: number, event: string | null = null): void {
    // As a shell reports it: a status above 128 means death by signal status-128.
    this.end({ exitStatus, signal: exitStatus > 128 ? signalName(exitStatus - 128) : null, event });
  }

  /** Delivers a signal the way the kernel would: KILL always ends the app, TERM unless ignored. */
  signal(signal: FakeSignal): void {
    if (this.info !== null) return;
    this.received.push(signal);
    this.world.events.push({ type: 'signal', instanceId: this.spec.instanceId, signal });
    if (signal === 'KILL' || !this.script.ignoreTerm) {
      const { number, name } = SIGNALS[signal];
      this.end({ exitStatus: 128 + number, signal: name, event: null });
    }
  }

  private end(info: ExitInfo): void {
    if (this.info !== null) return;
    this.exitTimer?.cancel();
    this.info = info;
    // Its children go with it: the fake has no orphans (a real app's may outlive it).
    for (const p of this.ownPids) this.world.livePids.delete(p);
    this.world.events.push({ type: 'exit', instanceId: this.spec.instanceId, exitStatus: info.exitStatus, event: info.event });
    this.resolveExit(info);
  }

  async pids(): Promise<number[]> {
    return this.alive ? [...this.ownPids] : [];
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    this.world.events.push({ type: 'stop', instanceId: this.spec.instanceId, graceMs });
    if (this.info !== null) return this.info;
    this.signal('TERM');
    if (this.alive && graceMs > 0) {
      let grace: TimerHandle | undefined;
      await Promise.race([this.exited, new Promise<void>((resolve) => (grace = this.clock.after(graceMs, resolve)))]);
      grace?.cancel();
    }
    this.signal('KILL');
    return this.exited;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.signal('KILL');
    this.world.processes.delete(this.id);
    this.world.events.push({ type: 'destroy', instanceId: this.spec.instanceId });
  }
}

function signalName(n: number): string | null {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : null;
}

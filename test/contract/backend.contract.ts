/**
 * The contract every Backend (src/backends/types.ts) must keep, as one vitest suite. Each
 * backend's test file registers it with a small adapter that says how to make apps of the
 * few behaviours below run on that backend (real scripts, or fake scripts), where the app's
 * own account of its pids comes from, whether a pid still runs, and how the backend's time
 * passes (real time, or a virtual clock). Every case runs against every backend.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, BackendHandle, ExitInfo, InstanceProcess, LaunchSpec } from '../../src/backends/types.js';

/** The behaviours the contract needs from an app. */
export type ContractApp =
  /** Exits by itself with `status` right after it starts. */
  | { readonly kind: 'exits'; readonly status: number }
  /** Runs until signalled; TERM ends it. */
  | { readonly kind: 'serves' }
  /** Runs until signalled and ignores TERM: only KILL ends it. */
  | { readonly kind: 'ignoresTerm' }
  /** Like `serves`, with one child process of its own. */
  | { readonly kind: 'forks' };

export interface ContractAdapter {
  readonly backend: Backend;
  /** A launch spec for a fresh instance whose app behaves as `app`. */
  script(app: ContractApp): Promise<LaunchSpec>;
  /** Resolves once the app has set itself up (TERM trapped, child forked). */
  ready(spec: LaunchSpec): Promise<void>;
  /**
   * The app's own pids as the app tells them (a pid file, the script that made it), never
   * as the backend reports them: main process first, then its children.
   */
  appPids(spec: LaunchSpec): Promise<number[]>;
  /** Whether a process with this pid runs (a zombie does not), as the kernel sees it. */
  running(pid: number): boolean;
  /** The backend's clock, in ms: the wall clock, or the fake's virtual one. */
  now(): number;
  /** Lets `ms` of the backend's time pass: waits for real, or advances a virtual clock. */
  elapse(ms: number): Promise<void>;
  /** Awaits `p` while the backend's time runs on as it needs to. */
  settle<T>(p: Promise<T>): Promise<T>;
  /** The backend an agent started after this one would build over the same state. */
  successor(): Backend;
  /** Removes whatever the adapter made (processes left over, directories). */
  dispose(): Promise<void>;
}

export interface ContractOptions {
  /** The grace given to a TERM-ignoring app before KILL. */
  readonly graceMs: number;
  /**
   * How long to watch for something that must not happen (an app that serves ending by
   * itself): longer than the backend takes to notice an exit, e.g. a recovered instance's
   * poll period.
   */
  readonly watchMs: number;
}

const TERM_STATUS = 128 + 15;
const KILL_STATUS = 128 + 9;
/** Real timers may fire a millisecond before the wall clock says they are due. */
const CLOCK_SLACK_MS = 2;

/** A handle as a restarted agent would read it back from its snapshot. */
function persisted(handle: BackendHandle): BackendHandle {
  return JSON.parse(JSON.stringify(handle)) as BackendHandle;
}

export function backendContract(name: string, makeAdapter: () => Promise<ContractAdapter>, opts: ContractOptions): void {
  describe(`Backend contract: ${name}`, () => {
    let s: ContractAdapter;
    const procs: InstanceProcess[] = [];

    beforeEach(async () => {
      s = await makeAdapter();
      procs.length = 0;
    });

    afterEach(async () => {
      try {
        for (const p of procs) await p.destroy();
      } finally {
        await s.dispose();
      }
    });

    async function launch(app: ContractApp): Promise<{ spec: LaunchSpec; proc: InstanceProcess }> {
      const spec = await s.script(app);
      const proc = await s.backend.launch(spec);
      procs.push(proc);
      return { spec, proc };
    }

    async function recovered(proc: InstanceProcess): Promise<InstanceProcess> {
      const again = await s.successor().recover(persisted(proc.handle));
      expect(again).not.toBeNull();
      procs.push(again!);
      return again!;
    }

    /** When, on the backend's clock, `exited` settles (null until it has). */
    function endTime(proc: InstanceProcess): { at: number | null } {
      const seen = { at: null as number | null };
      void proc.exited.then(() => (seen.at = s.now()));
      return seen;
    }

    /** Waits until every pid has stopped running; a killed process may take a moment to be reaped. */
    async function expectGone(pids: readonly number[]): Promise<void> {
      for (let waited = 0; pids.some((p) => s.running(p)) && waited < 10_000; waited += 20) await s.elapse(20);
      expect(pids.filter((p) => s.running(p)), 'pids still running').toEqual([]);
    }

    /** Stops a TERM-ignoring app and checks that only the KILL after the whole grace ended it. */
    async function expectKilledAfterGrace(proc: InstanceProcess): Promise<ExitInfo> {
      const ended = endTime(proc);
      const t0 = s.now();
      const stopped = proc.stop(opts.graceMs);
      // Half the grace on, TERM alone has not ended it.
      await s.elapse(opts.graceMs / 2);
      expect(ended.at ?? Infinity).toBeGreaterThanOrEqual(t0 + opts.graceMs - CLOCK_SLACK_MS);
      const info = await s.settle(stopped);
      expect(ended.at! - t0).toBeGreaterThanOrEqual(opts.graceMs - CLOCK_SLACK_MS);
      expect(info).toEqual({ exitStatus: KILL_STATUS, signal: 'SIGKILL', event: null });
      return info;
    }

    describe('launch and exit', () => {
      it('runs the command: an app that exits 0 reports exit status 0', async () => {
        const { proc } = await launch({ kind: 'exits', status: 0 });
        expect(await s.settle(proc.exited)).toEqual({ exitStatus: 0, signal: null, event: null });
      });

      it('reports a crash with the real exit status', async () => {
        const { proc } = await launch({ kind: 'exits', status: 3 });
        expect(await s.settle(proc.exited)).toEqual({ exitStatus: 3, signal: null, event: null });
      });

      it('settles exited once: later reads give the same ExitInfo', async () => {
        const { proc } = await launch({ kind: 'exits', status: 5 });
        const first = await s.settle(proc.exited);
        expect(await proc.exited).toBe(first);
      });

      it('keeps a running app running: exited stays pending while time passes', async () => {
        const { spec, proc } = await launch({ kind: 'serves' });
        await s.ready(spec);
        const ended = endTime(proc);
        await s.elapse(opts.watchMs);
        expect(ended.at).toBeNull();
        const [main] = await s.appPids(spec);
        expect(s.running(main!)).toBe(true);
      });

      it('gives a JSON-safe handle', async () => {
        const { proc } = await launch({ kind: 'serves' });
        expect(persisted(proc.handle)).toEqual(proc.handle);
      });
    });

    describe('stop', () => {
      it('ends a TERM-respecting app with TERM: 128+15', async () => {
        const { spec, proc } = await launch({ kind: 'serves' });
        await s.ready(spec);
        // A generous grace: a KILL would report 137, so 143 proves TERM did it.
        const info = await s.settle(proc.stop(60_000));
        expect(info).toEqual({ exitStatus: TERM_STATUS, signal: 'SIGTERM', event: null });
        expect(await proc.exited).toEqual(info);
      });

      it('KILLs a TERM-ignoring app after the grace, not before: 128+9', async () => {
        const { spec, proc } = await launch({ kind: 'ignoresTerm' });
        await s.ready(spec);
        const info = await expectKilledAfterGrace(proc);
        expect(await proc.exited).toEqual(info);
      });

      it('of an app that already exited reports its recorded exit', async () => {
        const { proc } = await launch({ kind: 'exits', status: 9 });
        await s.settle(proc.exited);
        expect((await s.settle(proc.stop(1_000))).exitStatus).toBe(9);
      });

      it('stopping twice gives the same exit', async () => {
        const { spec, proc } = await launch({ kind: 'serves' });
        await s.ready(spec);
        const [a, b] = await s.settle(Promise.all([proc.stop(60_000), proc.stop(60_000)]));
        expect(a.exitStatus).toBe(TERM_STATUS);
        expect(b.exitStatus).toBe(TERM_STATUS);
      });

      it('reaches every process of the instance: the child goes too', async () => {
        const { spec, proc } = await launch({ kind: 'forks' });
        await s.ready(spec);
        const pids = await s.appPids(spec);
        expect(pids).toHaveLength(2);
        expect(pids.filter((p) => s.running(p))).toEqual(pids);
        await s.settle(proc.stop(60_000));
        await expectGone(pids);
      });
    });

    describe('pids', () => {
      it('include the main process', async () => {
        const { spec, proc } = await launch({ kind: 'serves' });
        await s.ready(spec);
        const [main] = await s.appPids(spec);
        expect(await proc.pids()).toContain(main);
      });

      it("include the app's children", async () => {
        const { spec, proc } = await launch({ kind: 'forks' });
        await s.ready(spec);
        const own = await s.appPids(spec);
        expect(own).toHaveLength(2);
        expect(await proc.pids()).toEqual(expect.arrayContaining(own));
      });
    });

    describe('destroy', () => {
      it('is idempotent', async () => {
        const { proc } = await launch({ kind: 'exits', status: 0 });
        await s.settle(proc.exited);
        await proc.destroy();
        await expect(proc.destroy()).resolves.toBeUndefined();
      });

      it('ends an app that still runs, children included: exited settles with the signal', async () => {
        const { spec, proc } = await launch({ kind: 'forks' });
        await s.ready(spec);
        const own = await s.appPids(spec);
        expect(own).toHaveLength(2);
        await s.settle(proc.destroy());
        const info = await s.settle(proc.exited);
        expect(info.signal).not.toBeNull();
        await expectGone(own);
      });

      it('forgets the instance: recover gives null afterwards', async () => {
        const { proc } = await launch({ kind: 'exits', status: 0 });
        await s.settle(proc.exited);
        const handle = persisted(proc.handle);
        await proc.destroy();
        expect(await s.successor().recover(handle)).toBeNull();
      });
    });

    describe('recover', () => {
      it('re-attaches to a running instance: exited pending, then the stop status', async () => {
        const { spec, proc } = await launch({ kind: 'serves' });
        await s.ready(spec);
        const again = await recovered(proc);
        const ended = endTime(again);
        await s.elapse(opts.watchMs);
        expect(ended.at).toBeNull();
        const [main] = await s.appPids(spec);
        expect(await again.pids()).toContain(main);
        const info = await s.settle(again.stop(60_000));
        expect(info.exitStatus).toBe(TERM_STATUS);
        expect((await s.settle(again.exited)).exitStatus).toBe(TERM_STATUS);
        await expectGone([main!]);
      });

      it('reports the recorded exit status of an instance that died meanwhile', async () => {
        const { proc } = await launch({ kind: 'exits', status: 7 });
        await s.settle(proc.exited);
        const again = await recovered(proc);
        expect((await s.settle(again.exited)).exitStatus).toBe(7);
      });

      it('re-attaches to a TERM-ignoring instance and still KILLs it after the grace, not before', async () => {
        const { spec, proc } = await launch({ kind: 'ignoresTerm' });
        await s.ready(spec);
        const again = await recovered(proc);
        await expectKilledAfterGrace(again);
        await expectGone(await s.appPids(spec));
      });
    });
  });
}

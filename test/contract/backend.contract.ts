/**
 * The contract every Backend (src/backends/types.ts) must keep, as one vitest suite.
 * A backend's test file registers it with a subject that knows how to make apps of the
 * few behaviours below run on that backend (real scripts, or fake scripts).
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, BackendHandle, InstanceProcess, LaunchSpec } from '../../src/backends/types.js';

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

export interface ContractSubject {
  readonly backend: Backend;
  /** A launch spec for a fresh instance whose app behaves as `app`. */
  spec(app: ContractApp): Promise<LaunchSpec>;
  /** Resolves once the app has set itself up (TERM trapped, child forked). */
  ready(spec: LaunchSpec): Promise<void>;
  /** The app's own pids as it reports them: main process first, then its children. */
  appPids(spec: LaunchSpec): Promise<number[]>;
  /** The backend an agent started after this one would build over the same state. */
  successor(): Backend;
  /** Awaits `p` while letting the backend's clock run. */
  settle<T>(p: Promise<T>): Promise<T>;
  /** Whether `p` is still pending after the backend had ample chance to settle it. */
  stillPending(p: Promise<unknown>): Promise<boolean>;
  /** Removes whatever the subject made (processes left over, directories). */
  dispose(): Promise<void>;
}

export interface ContractOptions {
  /**
   * Real processes: exits come from the kernel, and stop/destroy must reach every
   * process of the instance (checked with kill(pid, 0)). The fake leaves these out.
   */
  readonly realProcesses: boolean;
  /** The grace given to a TERM-ignoring app before KILL. */
  readonly graceMs: number;
}

const TERM_STATUS = 128 + 15;
const KILL_STATUS = 128 + 9;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A handle as a restarted agent would read it back from its snapshot. */
function persisted(handle: BackendHandle): BackendHandle {
  return JSON.parse(JSON.stringify(handle)) as BackendHandle;
}

export function backendContract(name: string, makeSubject: () => Promise<ContractSubject>, opts: ContractOptions): void {
  describe(`Backend contract: ${name}`, () => {
    let s: ContractSubject;
    const procs: InstanceProcess[] = [];

    beforeEach(async () => {
      s = await makeSubject();
      procs.length = 0;
    });

    afterEach(async () => {
      for (const p of procs) await p.destroy();
      await s.dispose();
    });

    async function launch(app: ContractApp): Promise<{ spec: LaunchSpec; proc: InstanceProcess }> {
      const spec = await s.spec(app);
      const proc = await s.backend.launch(spec);
      procs.push(proc);
      return { spec, proc };
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

      it('keeps a running app running: exited stays pending', async () => {
        const { spec, proc } = await launch({ kind: 'serves' });
        await s.ready(spec);
        expect(await s.stillPending(proc.exited)).toBe(true);
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
        expect(info.exitStatus).toBe(TERM_STATUS);
        expect(info.signal).toBe('SIGTERM');
        expect(await proc.exited).toEqual(info);
      });

      it('KILLs a TERM-ignoring app after the grace: 128+9', async () => {
        const { spec, proc } = await launch({ kind: 'ignoresTerm' });
        await s.ready(spec);
        const stopped = proc.stop(opts.graceMs);
        // TERM alone does not end it.
        expect(await s.stillPending(proc.exited)).toBe(true);
        const info = await s.settle(stopped);
        expect(info.exitStatus).toBe(KILL_STATUS);
        expect(info.signal).toBe('SIGKILL');
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

      if (opts.realProcesses) {
        it('reaches every process of the instance: the child goes too', async () => {
          const { spec, proc } = await launch({ kind: 'forks' });
          await s.ready(spec);
          const pids = await s.appPids(spec);
          expect(pids).toHaveLength(2);
          await s.settle(proc.stop(60_000));
          for (const pid of pids) await expectGone(pid);
        });
      }
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

      it('ends an app that still runs', async () => {
        const { spec, proc } = await launch({ kind: 'serves' });
        await s.ready(spec);
        const own = await s.appPids(spec);
        await proc.destroy();
        await s.settle(proc.exited);
        if (opts.realProcesses) for (const pid of own) await expectGone(pid);
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
        const next = s.successor();
        const again = await next.recover(persisted(proc.handle));
        expect(again).not.toBeNull();
        if (!again) return;
        procs.push(again);
        expect(await s.stillPending(again.exited)).toBe(true);
        const [main] = await s.appPids(spec);
        expect(await again.pids()).toContain(main);
        const info = await s.settle(again.stop(60_000));
        expect(info.exitStatus).toBe(TERM_STATUS);
        expect((await s.settle(again.exited)).exitStatus).toBe(TERM_STATUS);
      });

      it('reports the recorded exit status of an instance that died meanwhile', async () => {
        const { proc } = await launch({ kind: 'exits', status: 7 });
        await s.settle(proc.exited);
        const again = await s.successor().recover(persisted(proc.handle));
        expect(again).not.toBeNull();
        if (!again) return;
        procs.push(again);
        expect((await s.settle(again.exited)).exitStatus).toBe(7);
      });

      it('re-attaches to a TERM-ignoring instance and still KILLs it after the grace', async () => {
        const { spec, proc } = await launch({ kind: 'ignoresTerm' });
        await s.ready(spec);
        const again = await s.successor().recover(persisted(proc.handle));
        expect(again).not.toBeNull();
        if (!again) return;
        procs.push(again);
        expect((await s.settle(again.stop(opts.graceMs))).exitStatus).toBe(KILL_STATUS);
      });
    });
  });
}

/** A killed process may take a moment to be reaped by its parent. */
async function expectGone(pid: number): Promise<void> {
  for (let i = 0; i < 200 && isAlive(pid) && !isZombie(pid); i++) await new Promise((r) => setTimeout(r, 10));
  expect(isAlive(pid) && !isZombie(pid)).toBe(false);
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

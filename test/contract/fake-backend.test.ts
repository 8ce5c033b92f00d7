import { describe, expect, it } from 'vitest';
import { FakeBackend, type FakeScript } from '../../src/backends/fake/index.js';
import type { LaunchSpec } from '../../src/backends/types.js';
import { VirtualClock } from '../support/virtual-clock.js';
import { backendContract, type ContractApp } from './backend.contract.js';

let seq = 0;

function launchSpec(over: Partial<LaunchSpec> = {}): LaunchSpec {
  const instanceId = (++seq).toString(16).padStart(32, '0');
  return {
    instanceId,
    dir: `/nonexistent/instances/${instanceId}`,
    mode: { kind: 'v1' },
    env: [],
    limits: { memMb: 256, diskMb: 1024, fds: 1024, nproc: 512, cpuShares: 32 },
    user: null,
    stdoutPath: '/nonexistent/stdout.log',
    stderrPath: '/nonexistent/stderr.log',
    ...over,
  };
}

/** An app's behaviour and the pids it was given, carried to the fake in its environment. */
interface ScriptedApp {
  readonly app: ContractApp;
  readonly pids: readonly number[];
}

/** The contract's app behaviours as fake scripts, chosen from the spec's environment. */
function contractScript(spec: LaunchSpec): FakeScript | undefined {
  const entry = spec.env.find(([k]) => k === 'CONTRACT_APP');
  if (!entry) return undefined;
  const { app, pids } = JSON.parse(entry[1]) as ScriptedApp;
  switch (app.kind) {
    case 'exits':
      return { exitAfterMs: 5, exitStatus: app.status, pids };
    case 'serves':
      return { pids };
    case 'ignoresTerm':
      return { ignoreTerm: true, pids };
    case 'forks':
      return { pids };
  }
}

/** Pids the adapter hands its apps: far from the fake's own allocation, never reused. */
let nextAppPid = 70_000;

backendContract(
  'fake',
  async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock, script: contractScript });
    // The app's own account of its pids: what the adapter scripted, not what the fake says.
    const appPids = new Map<string, readonly number[]>();
    return {
      backend,
      script: async (app) => {
        const pids = Array.from({ length: app.kind === 'forks' ? 2 : 1 }, () => nextAppPid++);
        const spec = launchSpec({ env: [['CONTRACT_APP', JSON.stringify({ app, pids } satisfies ScriptedApp)]] });
        appPids.set(spec.instanceId, pids);
        return spec;
      },
      // A fake app is set up the moment it is launched.
      ready: async () => undefined,
      appPids: async (spec) => [...(appPids.get(spec.instanceId) ?? [])],
      running: (pid) => backend.running(pid),
      now: () => clock.now(),
      elapse: (ms) => clock.advance(ms),
      settle: (p) => clock.runUntilSettled(p, { stepMs: 50 }),
      successor: () => backend.successor(),
      dispose: async () => undefined,
    };
  },
  { graceMs: 1_000, watchMs: 60_000 },
);

describe('FakeBackend scripts', () => {
  it('chooses each launch its script from the LaunchSpec, else the default', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({
      clock,
      script: (spec) => (spec.mode.kind === 'v2' ? { exitAfterMs: 100, exitStatus: 2 } : undefined),
      defaultScript: { exitAfterMs: 300, exitStatus: 4 },
    });
    const v2 = await backend.launch(launchSpec({ mode: { kind: 'v2', startCommand: 'x' } }));
    const v1 = await backend.launch(launchSpec());
    await clock.advance(100);
    expect(await v2.exited).toEqual({ exitStatus: 2, signal: null, event: null });
    expect(await v1.pids()).toHaveLength(1);
    await clock.advance(200);
    expect(await v1.exited).toEqual({ exitStatus: 4, signal: null, event: null });
  });

  it('exits on the injected clock, not before', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock, script: { exitAfterMs: 1_000, exitStatus: 1 } });
    const proc = await backend.launch(launchSpec());
    await clock.advance(999);
    expect(backend.process(proc.handle.instanceId as string)?.alive).toBe(true);
    await clock.advance(1);
    expect(await proc.exited).toEqual({ exitStatus: 1, signal: null, event: null });
    expect(await proc.pids()).toEqual([]);
  });

  it('reports the scripted event with a self-exit', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock, script: { exitAfterMs: 10, exitStatus: 137, event: 'out of memory' } });
    const proc = await backend.launch(launchSpec());
    await clock.advance(10);
    expect(await proc.exited).toEqual({ exitStatus: 137, signal: 'SIGKILL', event: 'out of memory' });
  });

  it('fails a launch with the scripted error and starts nothing', async () => {
    const clock = new VirtualClock();
    const boom = new Error('no container for you');
    const backend = new FakeBackend({ clock, script: { failLaunch: boom } });
    const spec = launchSpec();
    await expect(backend.launch(spec)).rejects.toBe(boom);
    expect(backend.launches).toEqual([spec]);
    expect(backend.processes()).toEqual([]);
    expect(backend.events).toEqual([{ type: 'launch-failed', instanceId: spec.instanceId, error: 'no container for you' }]);
  });

  it('waits exactly the grace before KILL for a TERM-ignoring app, in virtual time', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock, script: { ignoreTerm: true } });
    const spec = launchSpec();
    const proc = await backend.launch(spec);
    const stopped = proc.stop(10_000);
    await clock.advance(9_999);
    expect(backend.signals).toEqual([{ instanceId: spec.instanceId, signal: 'TERM' }]);
    await clock.advance(1);
    expect(await stopped).toEqual({ exitStatus: 137, signal: 'SIGKILL', event: null });
    expect(backend.signals.map((s) => s.signal)).toEqual(['TERM', 'KILL']);
    expect(backend.stops).toEqual([{ instanceId: spec.instanceId, graceMs: 10_000 }]);
  });

  it('KILLs a TERM-ignoring app at once when the grace is 0', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock, script: { ignoreTerm: true } });
    const proc = await backend.launch(launchSpec());
    expect(await proc.stop(0)).toEqual({ exitStatus: 137, signal: 'SIGKILL', event: null });
  });

  it('records launches, stops, signals, exits and destroys in order', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock });
    const spec = launchSpec();
    const proc = await backend.launch(spec);
    await proc.stop(5_000);
    await proc.destroy();
    await proc.destroy();
    const id = spec.instanceId;
    expect(backend.events).toEqual([
      { type: 'launch', instanceId: id, pid: expect.any(Number) },
      { type: 'stop', instanceId: id, graceMs: 5_000 },
      { type: 'signal', instanceId: id, signal: 'TERM' },
      { type: 'exit', instanceId: id, exitStatus: 143, event: null },
      { type: 'destroy', instanceId: id },
    ]);
  });

  it('recover gives back the very same process while the fake knows it', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock });
    const proc = await backend.launch(launchSpec());
    expect(await backend.successor().recover(proc.handle)).toBe(proc);
    expect(await backend.recover({ fakeId: 'fake-unknown' })).toBeNull();
    expect(await backend.recover({})).toBeNull();
  });

  it('runs an app under the pids its script gives; they run until it ends, and cannot be taken twice', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock, script: { pids: [500, 501] } });
    const proc = await backend.launch(launchSpec());
    expect(await proc.pids()).toEqual([500, 501]);
    expect(proc.handle.pid).toBe(500);
    expect([backend.running(500), backend.running(501), backend.running(502)]).toEqual([true, true, false]);
    await expect(backend.launch(launchSpec())).rejects.toThrow(/already running/);
    await proc.stop(0);
    expect([backend.running(500), backend.running(501)]).toEqual([false, false]);
    await expect(backend.launch(launchSpec())).resolves.toBeDefined();
  });

  it('lets a test end an app by hand', async () => {
    const clock = new VirtualClock();
    const backend = new FakeBackend({ clock });
    const spec = launchSpec();
    await backend.launch(spec);
    backend.process(spec.instanceId)?.exit(42, 'out of memory');
    expect(backend.alive()).toEqual([]);
    expect(await backend.process(spec.instanceId)?.exited).toEqual({ exitStatus: 42, signal: null, event: 'out of memory' });
  });
});

import { describe, expect, it } from 'vitest';
import { FakeBackend, type FakeScript } from '../../../src/backends/fake/index.js';
import type { Instance, Transition } from '../../../src/instance/instance.js';
import type { InstanceState, StartSpec } from '../../../src/instance/types.js';
import { InstanceLifecycle } from '../../../src/lifecycle/lifecycle.js';
import type { AppUser, DropletSource, LifecycleConfig } from '../../../src/lifecycle/ports.js';
import type { DropletInfo } from '../../../src/staging/droplet-info.js';
import { silentLogger } from '../../../src/platform/logger.js';
import { Layout } from '../../../src/staging/layout.js';
import { eventually } from '../../support/eventually.js';
import { VirtualClock } from '../../support/virtual-clock.js';
import { newInstance } from '../instance/fixtures.js';
import { MemoryAppFiles, MemoryDirs, MemoryStagedFiles, V1_INFO } from './fakes.js';

const CONFIG: LifecycleConfig = {
  localIp: '127.0.0.1',
  stacks: [{ name: 'cflinuxfs4', packagePath: '/' }],
  defaultHealthCheckTimeoutSecs: 60,
  instance: {
    memoryToCpuShareRatio: 8,
    minCpuShareLimit: 1,
    maxCpuShareLimit: 256,
    diskInodeLimit: 200_000,
    nprocLimit: 512,
    stopGraceSecs: 10,
    user: 'nobody',
    logMaxBytes: 10 * 1024 * 1024,
    elasticMaxFactor: 2,
  },
};

interface HarnessOpts {
  readonly script?: FakeScript;
  /** What the unpacked droplet says about itself (default: a v1 `startup`). */
  readonly info?: Partial<DropletInfo>;
  /** What the stub probe answers (default: healthy). */
  readonly healthy?: boolean;
  readonly appUser?: AppUser;
}

/** Every port in memory and the clock virtual: nothing here touches a disk or waits. */
function harness(opts: HarnessOpts = {}) {
  const layout = new Layout('/dea');
  const clock = new VirtualClock();
  const backend = new FakeBackend({ clock, script: opts.script ?? {} });
  const fetched: string[] = [];
  const droplets: DropletSource = {
    fetch: async (sha1, uri) => {
      fetched.push(uri);
      return { sha1: sha1 ?? 'ab'.repeat(20), path: '/dea/droplets/droplet.tgz' };
    },
  };
  const dirs = new MemoryDirs();
  const stagedFiles = new MemoryStagedFiles({ ...V1_INFO, ...opts.info });
  const appFiles = new MemoryAppFiles();
  let nextPort = 61_000;
  const released: (number | null)[] = [];
  const probes: [string, number][] = [];
  const lifecycle = new InstanceLifecycle({
    config: CONFIG,
    clock,
    logger: silentLogger(),
    layout,
    droplets,
    dirs,
    backend,
    ports: { allocate: async () => nextPort++, claim: () => undefined, release: (p) => released.push(p) },
    probe: async (host, port) => {
      probes.push([host, port]);
      return opts.healthy ?? true;
    },
    stagedFiles,
    appFiles,
    appUser: opts.appUser ?? null,
  });
  const transitions: [InstanceState, InstanceState][] = [];
  const make = (over: Partial<StartSpec> = {}): Instance =>
    newInstance(over, [(t: Transition) => transitions.push([t.from, t.to])]);
  return { layout, clock, backend, fetched, dirs, stagedFiles, appFiles, released, probes, lifecycle, transitions, make };
}

const crashes = (transitions: [InstanceState, InstanceState][]) => transitions.filter(([, to]) => to === 'CRASHED');

describe('InstanceLifecycle.start', () => {
  it('prepares, launches and health-checks an instance into RUNNING', async () => {
    const h = harness();
    const inst = h.make({ healthCheckTimeoutSecs: 5 });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
    expect(h.transitions).toEqual([
      ['BORN', 'STARTING'],
      ['STARTING', 'RUNNING'],
    ]);
    expect(inst.hostPort).toBe(61_000);
    expect(h.probes).toEqual([['127.0.0.1', 61_000]]);
    expect(h.fetched).toEqual([inst.spec.dropletUri]);
    const [spec] = h.backend.launches;
    expect(spec).toMatchObject({
      instanceId: inst.localId,
      dir: h.layout.instanceDir(inst.localId),
      mode: { kind: 'v1' },
      limits: { memMb: 256, diskMb: 1024, fds: 1024, nproc: 512, cpuShares: 32 },
      user: null,
      stdoutPath: `${h.layout.instanceDir(inst.localId)}/logs/stdout.log`,
      stderrPath: `${h.layout.instanceDir(inst.localId)}/logs/stderr.log`,
    });
    expect(spec?.env).toContainEqual(['PORT', '61000']);
    expect(h.lifecycle.process(inst)).toBe(h.backend.process(inst.localId));
  });

  it('runs the message start command in v2 mode', async () => {
    const h = harness({ info: { hasStartup: false } });
    const inst = h.make({ startCommand: 'bundle exec rackup -p $PORT' });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
    expect(h.backend.launches[0]?.mode).toEqual({ kind: 'v2', startCommand: 'bundle exec rackup -p $PORT' });
  });

  it('a worker without URIs is healthy without a probe', async () => {
    const h = harness({ healthy: false });
    const inst = h.make({ uris: [] });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
    expect(h.probes).toEqual([]);
  });

  it('crashes an instance that does not accept connections within the health check timeout', async () => {
    const h = harness({ healthy: false });
    const inst = h.make({ healthCheckTimeoutSecs: 3 });
    await h.clock.runUntilSettled(h.lifecycle.start(inst));
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('failed to accept connections within health check timeout');
    expect(inst.exitStatus).toBe(-1);
    expect(crashes(h.transitions)).toHaveLength(1);
    expect(h.probes.length).toBeGreaterThan(1);
    // The app is stopped at once and its backend resources released.
    expect(h.backend.stops).toEqual([{ instanceId: inst.localId, graceMs: 0 }]);
    expect(h.backend.processes()).toEqual([]);
    expect(h.released).toEqual([61_000]);
    // The crash keeps its directory, moved aside.
    expect(h.dirs.retired).toEqual([inst.localId]);
    expect(h.dirs.removed).toEqual([]);
  });

  it('crashes once, with "app instance exited" and the exit status, when the app exits during STARTING', async () => {
    const h = harness({ healthy: false, script: { exitAfterMs: 500, exitStatus: 3 } });
    const inst = h.make();
    await h.clock.runUntilSettled(h.lifecycle.start(inst));
    await h.clock.advance(120_000); // well past the health check timeout: nothing more happens
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitStatus).toBe(3);
    expect(inst.exitDescription).toBe('app instance exited');
    expect(h.transitions).toEqual([
      ['BORN', 'STARTING'],
      ['STARTING', 'CRASHED'],
    ]);
    expect(h.backend.processes()).toEqual([]);
  });

  it('reports the backend event as the exit description (out of memory)', async () => {
    const h = harness({ script: { exitAfterMs: 1_000, exitStatus: 137, event: 'out of memory' } });
    const inst = h.make();
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
    await h.clock.advance(1_000);
    await eventually(() => h.released.length === 1);
    expect(inst.state).toBe('CRASHED');
    expect([inst.exitStatus, inst.exitDescription]).toEqual([137, 'out of memory']);
    expect(h.transitions.at(-1)).toEqual(['RUNNING', 'CRASHED']);
  });

  it('crashes a RUNNING instance whose app exits', async () => {
    const h = harness();
    const inst = h.make();
    await h.lifecycle.start(inst);
    h.backend.process(inst.localId)?.exit(2);
    await eventually(() => h.released.length === 1);
    expect(inst.state).toBe('CRASHED');
    expect([inst.exitStatus, inst.exitDescription]).toEqual([2, 'app instance exited']);
    expect(crashes(h.transitions)).toHaveLength(1);
  });

  it('crashes with "missing start command" when there is no command and no startup script', async () => {
    const h = harness({ info: { hasStartup: false } });
    const inst = h.make({ startCommand: null });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('missing start command');
    expect(h.backend.launches).toEqual([]);
  });

  it('crashes with "failed to start" for a stack this agent does not offer, before any download', async () => {
    const h = harness();
    const inst = h.make({ stack: 'windows2012R2' });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('failed to start');
    expect(h.fetched).toEqual([]);
    expect(h.backend.launches).toEqual([]);
  });

  it('starts an app on an offered stack', async () => {
    const h = harness();
    const inst = h.make({ stack: 'cflinuxfs4' });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
  });

  it('crashes with "failed to start" when the backend cannot launch', async () => {
    const h = harness({ script: { failLaunch: new Error('spawn failed') } });
    const inst = h.make();
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('failed to start');
    expect(h.released).toEqual([61_000]);
  });
});

describe('InstanceLifecycle.refuse', () => {
  it('sends a BORN instance straight to CRASHED with the reason', async () => {
    const h = harness();
    const inst = h.make();
    h.lifecycle.refuse(inst, 'Not enough memory resource available.');
    expect(inst.state).toBe('CRASHED');
    expect([inst.exitStatus, inst.exitDescription]).toEqual([-1, 'Not enough memory resource available.']);
    expect(h.transitions).toEqual([['BORN', 'CRASHED']]);
  });
});

describe('InstanceLifecycle.stop', () => {
  it('stops a BORN instance straight to STOPPED without launching anything', async () => {
    const h = harness();
    const inst = h.make();
    await h.lifecycle.stop(inst);
    expect(inst.state).toBe('STOPPED');
    expect(h.transitions).toEqual([['BORN', 'STOPPED']]);
    expect(h.backend.launches).toEqual([]);
  });

  it('stops an instance during its health check: STOPPING → TERM → STOPPED, directory removed', async () => {
    const h = harness({ healthy: false });
    const inst = h.make();
    const started = h.lifecycle.start(inst);
    await eventually(() => h.backend.processes().length === 1, 5_000, 'launch');
    const stopped = h.lifecycle.stop(inst);
    expect(inst.state).toBe('STOPPING');
    await h.clock.runUntilSettled(Promise.all([started, stopped]));
    expect(inst.state).toBe('STOPPED');
    expect(h.transitions).toEqual([
      ['BORN', 'STARTING'],
      ['STARTING', 'STOPPING'],
      ['STOPPING', 'STOPPED'],
    ]);
    expect(h.backend.signals).toEqual([{ instanceId: inst.localId, signal: 'TERM' }]);
    expect(h.backend.stops).toEqual([{ instanceId: inst.localId, graceMs: 10_000 }]);
    expect(h.backend.processes()).toEqual([]);
    expect(h.dirs.removed).toEqual([inst.localId]);
    expect(h.released).toEqual([61_000]);
  });

  it('stops an instance before its launch: nothing is launched', async () => {
    const h = harness();
    const inst = h.make();
    const started = h.lifecycle.start(inst);
    const stopped = h.lifecycle.stop(inst);
    await Promise.all([started, stopped]);
    expect(inst.state).toBe('STOPPED');
    expect(h.backend.launches).toEqual([]);
    expect(crashes(h.transitions)).toEqual([]);
    expect(h.dirs.removed).toEqual([inst.localId]);
  });

  it('KILLs an app that ignores TERM once stop_grace has passed, not before', async () => {
    const h = harness({ script: { ignoreTerm: true } });
    const inst = h.make();
    await h.lifecycle.start(inst);
    const stopped = h.lifecycle.stop(inst);
    await h.clock.advance(9_999);
    expect(inst.state).toBe('STOPPING');
    expect(h.backend.signals.map((s) => s.signal)).toEqual(['TERM']);
    await h.clock.advance(1);
    await stopped;
    expect(inst.state).toBe('STOPPED');
    expect(h.backend.signals.map((s) => s.signal)).toEqual(['TERM', 'KILL']);
    expect(h.backend.events.filter((e) => e.type === 'exit')).toEqual([
      { type: 'exit', instanceId: inst.localId, exitStatus: 137, event: null },
    ]);
  });

  it('a second stop while stopping joins the first', async () => {
    const h = harness({ script: { ignoreTerm: true } });
    const inst = h.make();
    await h.lifecycle.start(inst);
    const first = h.lifecycle.stop(inst);
    const second = h.lifecycle.stop(inst);
    await h.clock.runUntilSettled(Promise.all([first, second]));
    expect(h.backend.stops).toHaveLength(1);
    expect(h.transitions.filter(([, to]) => to === 'STOPPED')).toHaveLength(1);
  });

  it('leaves a CRASHED instance alone', async () => {
    const h = harness();
    const inst = h.make();
    h.lifecycle.refuse(inst, 'Not enough disk resource available.');
    await h.lifecycle.stop(inst);
    expect(inst.state).toBe('CRASHED');
    expect(h.transitions).toEqual([['BORN', 'CRASHED']]);
  });
});

describe('InstanceLifecycle: the instance files, through the ports', () => {
  it('makes the app dirs for the app user; a v2 droplet runs with HOME at app/', async () => {
    const user = { uid: 2000, gid: 2000 };
    const h = harness({ info: { hasAppDir: true }, appUser: user });
    const inst = h.make();
    await h.lifecycle.start(inst);
    const dir = h.layout.instanceDir(inst.localId);
    expect(h.dirs.created).toEqual([inst.localId]);
    expect(h.stagedFiles.appDirs).toEqual([[dir, user]]);
    const env = h.backend.launches[0]?.env ?? [];
    expect(env).toContainEqual(['HOME', `${dir}/app`]);
    expect(env).toContainEqual(['TMPDIR', `${dir}/tmp`]);
  });

  it('health-checks by the state file, not the port, until it says RUNNING', async () => {
    const h = harness({ info: { stateFile: 'tmp/state.json' }, healthy: false });
    const inst = h.make();
    const started = h.lifecycle.start(inst);
    const stateFile = `${h.layout.instanceDir(inst.localId)}/tmp/state.json`;
    await h.clock.advance(2_000);
    h.appFiles.files.set(stateFile, '{"state":"STARTING"}');
    await h.clock.advance(60_000); // past the port check's timeout: the state file has 300 s
    expect(inst.state).toBe('STARTING');
    h.appFiles.files.set(stateFile, '{"state":"RUNNING"}');
    await h.clock.advance(500);
    await started;
    expect(inst.state).toBe('RUNNING');
    expect(h.probes).toEqual([]);
  });

  it('a state file that never says RUNNING fails the start after 300 s', async () => {
    const h = harness({ info: { stateFile: 'state.json' } });
    const inst = h.make({ healthCheckTimeoutSecs: 5 });
    const started = h.lifecycle.start(inst);
    await h.clock.advance(299_000);
    expect(inst.state).toBe('STARTING');
    await h.clock.runUntilSettled(started);
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('failed to accept connections within health check timeout');
    expect(h.clock.now() - (inst.startingTimestamp ?? 0)).toBeGreaterThanOrEqual(300_000);
  });

  it('kill writes the reason to the app stderr.log, stops the app and crashes with the reason', async () => {
    const h = harness();
    const inst = h.make();
    await h.lifecycle.start(inst);
    const reason = 'Memory limit of 256M exceeded. Usage: 300M.';
    await h.clock.runUntilSettled(h.lifecycle.kill(inst, reason));
    expect(h.appFiles.files.get(`${h.layout.instanceDir(inst.localId)}/logs/stderr.log`)).toBe(`[dea] ${reason}\n`);
    expect(h.backend.stops[0]).toEqual({ instanceId: inst.localId, graceMs: 0 });
    await eventually(() => inst.state === 'CRASHED');
    expect(inst.exitDescription).toBe(reason);
  });

  it('rotateLogs caps the logs of the instance dir and answers what was rotated', async () => {
    const h = harness();
    const inst = h.make();
    await h.lifecycle.start(inst);
    h.appFiles.rotated = ['stdout.log'];
    expect(h.lifecycle.rotateLogs(inst, 4096)).toEqual(['stdout.log']);
    expect(h.appFiles.rotations).toEqual([[h.layout.instanceDir(inst.localId), 4096]]);
  });
});

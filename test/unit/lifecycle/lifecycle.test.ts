import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeBackend, type FakeScript } from '../../../src/backends/fake/index.js';
import type { Instance, Transition } from '../../../src/instance/instance.js';
import type { InstanceState, StartSpec } from '../../../src/instance/types.js';
import { InstanceLifecycle } from '../../../src/lifecycle/lifecycle.js';
import type { DropletSource, LifecycleConfig } from '../../../src/lifecycle/ports.js';
import type { Unpack } from '../../../src/staging/spares.js';
import { UnpackedDirs } from '../../../src/staging/unpacked-dirs.js';
import { silentLogger } from '../../../src/platform/logger.js';
import { Layout } from '../../../src/staging/layout.js';
import { eventually } from '../../support/eventually.js';
import { VirtualClock } from '../../support/virtual-clock.js';
import { newInstance } from '../instance/fixtures.js';

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
  },
};

interface HarnessOpts {
  readonly script?: FakeScript;
  /** What the stub unpacker writes into the instance dir (default: a v1 `startup`). */
  readonly files?: Readonly<Record<string, string>>;
  /** What the stub probe answers (default: healthy). */
  readonly healthy?: boolean;
}

const roots: string[] = [];

afterEach(async () => {
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

async function harness(opts: HarnessOpts = {}) {
  const root = await mkdtemp(join(tmpdir(), 'dea-lifecycle-'));
  roots.push(root);
  const layout = new Layout(root);
  await layout.ensure();
  const clock = new VirtualClock();
  const backend = new FakeBackend({ clock, script: opts.script ?? {} });
  const fetched: string[] = [];
  const droplets: DropletSource = {
    fetch: async (sha1, uri) => {
      fetched.push(uri);
      return { sha1: sha1 ?? 'ab'.repeat(20), path: join(root, 'droplet.tgz') };
    },
  };
  const files = opts.files ?? { startup: '#!/bin/bash\nexec sleep 1000\n' };
  const unpack: Unpack = async (_tgz, dest) => {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dest, name), text, { mode: 0o755 });
  };
  const dirs = new UnpackedDirs({ layout, unpack, user: null });
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
    appUser: null,
  });
  const transitions: [InstanceState, InstanceState][] = [];
  const make = (over: Partial<StartSpec> = {}): Instance =>
    newInstance(over, [(t: Transition) => transitions.push([t.from, t.to])]);
  return { root, layout, clock, backend, fetched, released, probes, lifecycle, transitions, make };
}

const crashes = (transitions: [InstanceState, InstanceState][]) => transitions.filter(([, to]) => to === 'CRASHED');

describe('InstanceLifecycle.start', () => {
  it('prepares, launches and health-checks an instance into RUNNING', async () => {
    const h = await harness();
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
      stdoutPath: join(h.layout.instanceDir(inst.localId), 'logs', 'stdout.log'),
      stderrPath: join(h.layout.instanceDir(inst.localId), 'logs', 'stderr.log'),
    });
    expect(spec?.env).toContainEqual(['PORT', '61000']);
    expect(h.lifecycle.process(inst)).toBe(h.backend.process(inst.localId));
  });

  it('runs the message start command in v2 mode', async () => {
    const h = await harness({ files: {} });
    const inst = h.make({ startCommand: 'bundle exec rackup -p $PORT' });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
    expect(h.backend.launches[0]?.mode).toEqual({ kind: 'v2', startCommand: 'bundle exec rackup -p $PORT' });
  });

  it('a worker without URIs is healthy without a probe', async () => {
    const h = await harness({ healthy: false });
    const inst = h.make({ uris: [] });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
    expect(h.probes).toEqual([]);
  });

  it('crashes an instance that does not accept connections within the health check timeout', async () => {
    const h = await harness({ healthy: false });
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
    expect(existsSync(h.layout.crashDir(inst.localId))).toBe(true);
    expect(existsSync(h.layout.instanceDir(inst.localId))).toBe(false);
  });

  it('crashes once, with "app instance exited" and the exit status, when the app exits during STARTING', async () => {
    const h = await harness({ healthy: false, script: { exitAfterMs: 500, exitStatus: 3 } });
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
    const h = await harness({ script: { exitAfterMs: 1_000, exitStatus: 137, event: 'out of memory' } });
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
    const h = await harness();
    const inst = h.make();
    await h.lifecycle.start(inst);
    h.backend.process(inst.localId)?.exit(2);
    await eventually(() => h.released.length === 1);
    expect(inst.state).toBe('CRASHED');
    expect([inst.exitStatus, inst.exitDescription]).toEqual([2, 'app instance exited']);
    expect(crashes(h.transitions)).toHaveLength(1);
  });

  it('crashes with "missing start command" when there is no command and no startup script', async () => {
    const h = await harness({ files: { 'README.txt': 'no startup here' } });
    const inst = h.make({ startCommand: null });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('missing start command');
    expect(h.backend.launches).toEqual([]);
  });

  it('crashes with "failed to start" for a stack this agent does not offer, before any download', async () => {
    const h = await harness();
    const inst = h.make({ stack: 'windows2012R2' });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('failed to start');
    expect(h.fetched).toEqual([]);
    expect(h.backend.launches).toEqual([]);
  });

  it('starts an app on an offered stack', async () => {
    const h = await harness();
    const inst = h.make({ stack: 'cflinuxfs4' });
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('RUNNING');
  });

  it('crashes with "failed to start" when the backend cannot launch', async () => {
    const h = await harness({ script: { failLaunch: new Error('spawn failed') } });
    const inst = h.make();
    await h.lifecycle.start(inst);
    expect(inst.state).toBe('CRASHED');
    expect(inst.exitDescription).toBe('failed to start');
    expect(h.released).toEqual([61_000]);
  });
});

describe('InstanceLifecycle.refuse', () => {
  it('sends a BORN instance straight to CRASHED with the reason', async () => {
    const h = await harness();
    const inst = h.make();
    h.lifecycle.refuse(inst, 'Not enough memory resource available.');
    expect(inst.state).toBe('CRASHED');
    expect([inst.exitStatus, inst.exitDescription]).toEqual([-1, 'Not enough memory resource available.']);
    expect(h.transitions).toEqual([['BORN', 'CRASHED']]);
  });
});

describe('InstanceLifecycle.stop', () => {
  it('stops a BORN instance straight to STOPPED without launching anything', async () => {
    const h = await harness();
    const inst = h.make();
    await h.lifecycle.stop(inst);
    expect(inst.state).toBe('STOPPED');
    expect(h.transitions).toEqual([['BORN', 'STOPPED']]);
    expect(h.backend.launches).toEqual([]);
  });

  it('stops an instance during its health check: STOPPING → TERM → STOPPED, directory removed', async () => {
    const h = await harness({ healthy: false });
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
    expect(existsSync(h.layout.instanceDir(inst.localId))).toBe(false);
    expect(h.released).toEqual([61_000]);
  });

  it('stops an instance before its launch: nothing is launched', async () => {
    const h = await harness();
    const inst = h.make();
    const started = h.lifecycle.start(inst);
    const stopped = h.lifecycle.stop(inst);
    await Promise.all([started, stopped]);
    expect(inst.state).toBe('STOPPED');
    expect(h.backend.launches).toEqual([]);
    expect(crashes(h.transitions)).toEqual([]);
    expect(existsSync(h.layout.instanceDir(inst.localId))).toBe(false);
  });

  it('KILLs an app that ignores TERM once stop_grace has passed, not before', async () => {
    const h = await harness({ script: { ignoreTerm: true } });
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
    const h = await harness({ script: { ignoreTerm: true } });
    const inst = h.make();
    await h.lifecycle.start(inst);
    const first = h.lifecycle.stop(inst);
    const second = h.lifecycle.stop(inst);
    await h.clock.runUntilSettled(Promise.all([first, second]));
    expect(h.backend.stops).toHaveLength(1);
    expect(h.transitions.filter(([, to]) => to === 'STOPPED')).toHaveLength(1);
  });

  it('leaves a CRASHED instance alone', async () => {
    const h = await harness();
    const inst = h.make();
    h.lifecycle.refuse(inst, 'Not enough disk resource available.');
    await h.lifecycle.stop(inst);
    expect(inst.state).toBe('CRASHED');
    expect(h.transitions).toEqual([['BORN', 'CRASHED']]);
  });
});

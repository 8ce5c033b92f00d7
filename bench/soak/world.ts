/**
 * The real parts the soak drives: one nats-server, one droplet server, one agent on a
 * base_dir and cgroup root that belong to this run alone, and the bus recorders that
 * watch the agent for the whole run (they survive nats restarts: the client reconnects
 * and subscribes again).
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startAgent, startMessage, unmountUnder, type AgentHandle } from '../../test/support/agent-process.js';
import { connectTestClient, type Recorder, type TestBusClient } from '../../test/support/bus-client.js';
import { buildDroplet, serveDroplets } from '../../test/support/droplets.js';
import { startNatsServer, type NatsServerHandle } from '../../test/support/nats-server.js';
import { roundTrip } from '../../test/support/round-trip.js';
import { sweepCgroupRoot } from '../../test/integration/container/harness.js';
import type { Cleanup } from '../cleanup.js';
import type { BackendKind } from './args.js';
import { killOurProcesses } from './procs.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

/** Memory the agent offers, and what each soak instance reserves of it. */
export const CAPACITY_MB = 4096;
export const INSTANCE_MB = 64;

export interface World {
  backend: BackendKind;
  baseDir: string;
  cgroupRoot: string;
  nats: NatsServerHandle;
  bus: TestBusClient;
  agent: AgentHandle;
  exits: Recorder;
  registers: Recorder;
  unregisters: Recorder;
  /** Publishes the start of instance `index` of `app` to the current agent. */
  start(app: string, index: number): void;
  /** Starts a new agent on the same base_dir (adoption) and makes it the current one. */
  restartAgent(): Promise<AgentHandle>;
  /** Waits until the current agent answers on the bus: both ends are connected. */
  settle(timeoutMs?: number): Promise<void>;
}

export async function makeWorld(backend: BackendKind, seed: number, cleanup: Cleanup): Promise<World> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'dea-soak-'));
  await chmod(work, 0o755); // apps run as an unprivileged user and must reach base_dir
  const baseDir = path.join(work, 'base');
  cleanup.defer(`remove ${work}`, async () => {
    unmountUnder(work);
    await rm(work, { recursive: true, force: true });
  });
  await mkdir(baseDir, { mode: 0o755 });
  const cgroupRoot = `dea-soak-${process.pid}-${seed}`;
  cleanup.defer('remove the cgroup root', () => sweepCgroupRoot(cgroupRoot));
  cleanup.defer('kill what is left of our instances', () => killOurProcesses(baseDir));
  const nats = await startNatsServer();
  cleanup.defer('stop nats-server', () => nats.stop());
  const droplet = await buildDroplet('serves-http', path.join(work, 'droplets'));
  const files = await serveDroplets(path.join(work, 'droplets'));
  cleanup.defer('close the droplet server', () => files.close());
  const bus = await connectTestClient(nats.url, { name: 'soak' });
  cleanup.defer('close the bus client', () => bus.close());
  const [exits, registers, unregisters] = ['droplet.exited', 'router.register', 'router.unregister'].map((s) => bus.record(s)) as [Recorder, Recorder, Recorder];
  for (const r of [exits, registers, unregisters]) await r.ready();
  const config = {
    backend: { kind: backend, container: { cgroup_root: cgroupRoot } },
    resources: { memory_mb: CAPACITY_MB, disk_mb: 65_536 },
    logging: { level: 'info' },
  };
  const launch = () => startAgent({ natsUrl: nats.url, baseDir, config });
  const world: World = {
    backend,
    baseDir,
    cgroupRoot,
    nats,
    bus,
    agent: await launch(),
    exits,
    registers,
    unregisters,
    start(app, index) {
      const msg = startMessage({ droplet: app, index, executableUri: files.url(droplet.path), sha1: droplet.sha1, limits: { mem: INSTANCE_MB, disk: 64, fds: 256 } });
      bus.publish(`dea.${world.agent.id}.start`, msg);
    },
    async restartAgent() {
      world.agent = await launch();
      return world.agent;
    },
    settle: (timeoutMs = 30_000) => roundTrip(bus, world.agent.id, timeoutMs),
  };
  // Whichever agent is current when the soak ends is stopped first: it stops its instances.
  cleanup.defer('stop the agent', () => world.agent.dispose());
  return world;
}


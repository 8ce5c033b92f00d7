import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent/agent.js';
import { FakeBackend } from '../../../src/backends/fake/index.js';
import { MemoryBus } from '../../../src/bus/memory-bus.js';
import { parseConfig } from '../../../src/config/index.js';
import type { Instance } from '../../../src/instance/instance.js';
import { silentLogger } from '../../../src/platform/logger.js';
import type {
  AdvertiseMessage,
  DropletExitedMessage,
  FindReply,
  HeartbeatMessage,
  RouteMessage,
} from '../../../src/protocol/index.js';
import { Layout } from '../../../src/staging/layout.js';
import { UnpackedDirs } from '../../../src/staging/unpacked-dirs.js';
import { VirtualClock } from '../../support/virtual-clock.js';
import { APP, DEA_ID, START, counterIds, startMessage } from './memory-agent.js';

const OTHER = 'app-worker';

const roots: string[] = [];
const agents: Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) await a.shutdown();
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

async function harness() {
  const root = await mkdtemp(join(tmpdir(), 'dea-agent-'));
  roots.push(root);
  const config = parseConfig(
    {
      base_dir: root,
      nats_servers: ['nats://127.0.0.1:4222'],
      local_ip: '10.0.0.5',
      resources: { memory_mb: 1024, disk_mb: 4096 },
      stacks: [{ name: 'cflinuxfs4', package_path: '/' }],
    },
    { firstIpv4: () => '10.0.0.5', userExists: () => false, randomHex32: () => 'e'.repeat(32) },
  );
  const layout = new Layout(root);
  await layout.ensure();
  const clock = new VirtualClock();
  const bus = new MemoryBus();
  const backend = new FakeBackend({ clock });
  let nextPort = 62_000;
  const agent = new Agent({
    id: DEA_ID,
    config,
    bus,
    clock,
    ids: counterIds(),
    logger: silentLogger(),
    layout,
    lifecycle: {
      droplets: { fetch: async (sha1) => ({ sha1: sha1 ?? 'ab'.repeat(20), path: join(root, 'droplet.tgz') }) },
      dirs: new UnpackedDirs({
        layout,
        user: null,
        unpack: async (_tgz, dest) => writeFile(join(dest, 'startup'), '#!/bin/bash\nexec sleep 1000\n', { mode: 0o755 }),
      }),
      backend,
      ports: { allocate: async () => nextPort++, claim: () => undefined, release: () => undefined },
      probe: async () => true,
      appUser: null,
    },
    reapDroplets: async () => undefined,
  });
  agents.push(agent);
  agent.start();

  const on = <T>(subject: string) => bus.bodiesOn(subject) as T[];
  const h = {
    agent,
    bus,
    clock,
    backend,
    on,
    inject: (subject: string, body: unknown, reply?: string) =>
      bus.inject(subject, typeof body === 'string' ? body : JSON.stringify(body), reply),
    lastAdvertise: () => on<AdvertiseMessage>('dea.advertise').at(-1),
    instances: (app = APP) => agent.registry.forApp(app),
    /** Starts an instance and waits until it is RUNNING. */
    async startRunning(over: Record<string, unknown> = {}): Promise<Instance> {
      const before = new Set(agent.registry.all());
      h.inject(START, startMessage(over));
      const inst = agent.registry.all().find((i) => !before.has(i));
      if (!inst) throw new Error('start was not accepted');
      await until(() => inst.state === 'RUNNING', `instance RUNNING (is ${inst.state})`);
      return inst;
    },
  };
  return h;
}

/** Waits (in real time) for asynchronous work with real I/O, such as preparing an instance. */
async function until(check: () => boolean, what = 'condition'): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 5 s`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('dea.<id>.start', () => {
  it('starts an instance: RUNNING heartbeat and router.register', async () => {
    const h = await harness();
    const inst = await h.startRunning();
    const beat = h.on<HeartbeatMessage>('dea.heartbeat').at(-1);
    expect(beat).toEqual({
      dea: DEA_ID,
      droplets: [
        {
          cc_partition: 'default',
          droplet: APP,
          version: 'v1',
          instance: inst.instanceId,
          index: 0,
          state: 'RUNNING',
          state_timestamp: expect.any(Number),
          // Where the router reaches it too: the same host and port as its registration.
          host: '10.0.0.5',
          port: 62_000,
        },
      ],
    });
    expect(h.on<RouteMessage>('router.register')).toEqual([
      {
        dea: DEA_ID,
        app: APP,
        uris: ['web.example.com'],
        host: '10.0.0.5',
        port: 62_000,
        tags: { component: 'dea-0' },
        private_instance_id: inst.privateInstanceId,
      },
    ]);
    expect(h.backend.launches).toHaveLength(1);
  });

  it('advertises the reduced memory and disk after a start', async () => {
    const h = await harness();
    expect(h.lastAdvertise()).toMatchObject({ available_memory: 1024, available_disk: 4096, app_id_to_count: {} });
    await h.startRunning();
    await h.clock.advance(0);
    expect(h.lastAdvertise()).toMatchObject({ available_memory: 768, available_disk: 3584, app_id_to_count: { [APP]: 1 } });
  });

  it.each([
    ['memory', { mem: 2048, disk: 512 }, 'Not enough memory resource available.'],
    ['disk', { mem: 256, disk: 8192 }, 'Not enough disk resource available.'],
    ['disk before memory', { mem: 2048, disk: 8192 }, 'Not enough disk resource available.'],
  ])('refuses a start short of %s: droplet.exited, nothing launched', async (_what, limits, description) => {
    const h = await harness();
    h.inject(START, startMessage({ limits: { ...limits, fds: 1024 } }));
    const exited = h.on<DropletExitedMessage>('droplet.exited');
    expect(exited).toEqual([
      expect.objectContaining({ droplet: APP, reason: 'CRASHED', exit_status: -1, exit_description: description }),
    ]);
    expect(h.instances().map((i) => i.state)).toEqual(['CRASHED']);
    await h.clock.advance(0);
    expect(h.backend.launches).toEqual([]);
    expect(h.lastAdvertise()).toMatchObject({ available_memory: 1024 });
  });

  it('counts what is already reserved: a start that no longer fits is refused', async () => {
    const h = await harness();
    await h.startRunning({ limits: { mem: 800, disk: 512, fds: 1024 } });
    h.inject(START, startMessage({ index: 1, limits: { mem: 300, disk: 512, fds: 1024 } }));
    expect(h.on<DropletExitedMessage>('droplet.exited').map((m) => [m.index, m.exit_description])).toEqual([
      [1, 'Not enough memory resource available.'],
    ]);
    expect(h.backend.launches).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{"droplet": '],
    ['an empty object', {}],
    ['uris as a string', startMessage({ uris: 'web.example.com' })],
    ['limits of the wrong type', startMessage({ limits: { mem: '256' } })],
  ])('drops %s: nothing registered or reserved, and the next start still works', async (_what, body) => {
    const h = await harness();
    h.inject('dea.locate', {});
    const before = h.lastAdvertise();
    h.inject(START, body);
    await h.clock.advance(0);
    expect(h.agent.registry.size()).toBe(0);
    expect(h.backend.launches).toEqual([]);
    h.inject('dea.locate', {});
    expect(h.lastAdvertise()).toEqual(before);
    expect(h.on('droplet.exited')).toEqual([]);

    await h.startRunning();
    expect(h.agent.registry.size()).toBe(1);
  });
});

describe('dea.stop', () => {
  it('stops only the instances that pass every filter', async () => {
    const h = await harness();
    const web0 = await h.startRunning({ index: 0 });
    const web1 = await h.startRunning({ index: 1 });
    const worker = await h.startRunning({ droplet: OTHER, uris: [] });

    h.inject('dea.stop', { droplet: APP, indices: [1] });
    await h.clock.runUntilSettled(until(() => web1.state === 'STOPPED'));
    expect([web0.state, web1.state, worker.state]).toEqual(['RUNNING', 'STOPPED', 'RUNNING']);
    expect(h.on<RouteMessage>('router.unregister').map((m) => m.private_instance_id)).toEqual([web1.privateInstanceId]);
    expect(h.agent.registry.get(web1.instanceId)).toBeUndefined();

    h.inject('dea.stop', { droplet: APP, version: 'other-version' });
    h.inject('dea.stop', { droplet: APP, instances: [] });
    h.inject('dea.stop', { droplet: APP, states: ['CRASHED'] });
    await h.clock.advance(0);
    expect(web0.state).toBe('RUNNING');

    h.inject('dea.stop', { droplet: APP, instances: [web0.instanceId] });
    await h.clock.runUntilSettled(until(() => web0.state === 'STOPPED'));
    expect(worker.state).toBe('RUNNING');
    expect(h.backend.alive().map((p) => p.spec.instanceId)).toEqual([worker.localId]);
  });

  it('advertises the memory back after a stop', async () => {
    const h = await harness();
    const inst = await h.startRunning();
    h.inject('dea.stop', { droplet: APP });
    await h.clock.runUntilSettled(until(() => inst.state === 'STOPPED'));
    await h.clock.advance(0);
    expect(h.lastAdvertise()).toMatchObject({ available_memory: 1024, app_id_to_count: {} });
  });
});

describe('dea.update', () => {
  it('registers only added URIs and unregisters only removed ones', async () => {
    const h = await harness();
    const inst = await h.startRunning({ uris: ['a.example.com', 'b.example.com'] });
    const id = inst.instanceId;
    h.inject('dea.update', { droplet: APP, uris: ['b.example.com', 'c.example.com'], version: 'v1' });
    expect(h.on<RouteMessage>('router.register').map((m) => m.uris)).toEqual([
      ['a.example.com', 'b.example.com'],
      ['c.example.com'],
    ]);
    expect(h.on<RouteMessage>('router.unregister').map((m) => m.uris)).toEqual([['a.example.com']]);
    expect(inst.uris).toEqual(['b.example.com', 'c.example.com']);
    expect(inst.instanceId).toBe(id);
  });

  it('re-keys the instance on a version change and sends a heartbeat with the new id', async () => {
    const h = await harness();
    const inst = await h.startRunning();
    const oldId = inst.instanceId;
    const beats = h.on('dea.heartbeat').length;
    h.inject('dea.update', { droplet: APP, uris: ['web.example.com'], version: 'v2' });
    expect(inst.instanceId).not.toBe(oldId);
    expect(inst.instanceId).toMatch(/^[0-9a-f]{32}$/);
    expect(h.agent.registry.get(oldId)).toBeUndefined();
    expect(h.agent.registry.get(inst.instanceId)).toBe(inst);
    const heartbeats = h.on<HeartbeatMessage>('dea.heartbeat');
    expect(heartbeats).toHaveLength(beats + 1);
    expect(heartbeats.at(-1)?.droplets).toEqual([
      expect.objectContaining({ instance: inst.instanceId, version: 'v2', state: 'RUNNING' }),
    ]);
    // Same URIs: no route traffic.
    expect(h.on('router.register')).toHaveLength(1);
    expect(h.on('router.unregister')).toEqual([]);
  });

  it('leaves other apps alone', async () => {
    const h = await harness();
    const inst = await h.startRunning();
    h.inject('dea.update', { droplet: OTHER, uris: ['x.example.com'], version: 'v9' });
    expect(inst.uris).toEqual(['web.example.com']);
    expect(inst.version).toBe('v1');
  });
});

describe('dea.find.droplet', () => {
  it('replies once per matching instance', async () => {
    const h = await harness();
    const web0 = await h.startRunning({ index: 0 });
    const web1 = await h.startRunning({ index: 1 });
    await h.startRunning({ droplet: OTHER, uris: [] });

    h.inject('dea.find.droplet', { droplet: APP }, 'inbox.all');
    const all = h.on<FindReply>('inbox.all');
    expect(all.map((r) => [r.instance, r.index, r.state])).toEqual([
      [web0.instanceId, 0, 'RUNNING'],
      [web1.instanceId, 1, 'RUNNING'],
    ]);
    expect(all.every((r) => r.dea === DEA_ID && r.droplet === APP)).toBe(true);

    h.inject('dea.find.droplet', { droplet: APP, indices: [1], include_stats: true }, 'inbox.one');
    const one = h.on<FindReply>('inbox.one');
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ instance: web1.instanceId, stats: expect.any(Object) });

    h.inject('dea.find.droplet', { droplet: 'nobody-runs-this' }, 'inbox.none');
    expect(h.on('inbox.none')).toEqual([]);
  });
});

describe('peer announcements', () => {
  it('dea.locate → dea.advertise', async () => {
    const h = await harness();
    const n = h.on('dea.advertise').length;
    h.inject('dea.locate', {});
    expect(h.on('dea.advertise')).toHaveLength(n + 1);
    expect(h.lastAdvertise()).toEqual({
      id: DEA_ID,
      stacks: ['cflinuxfs4'],
      available_memory: 1024,
      available_disk: 4096,
      app_id_to_count: {},
      placement_properties: { zone: 'default' },
    });
  });

  it('router.start → every routable instance with URIs is registered again', async () => {
    const h = await harness();
    const web = await h.startRunning();
    await h.startRunning({ droplet: OTHER, uris: [] });
    const n = h.on('router.register').length;
    h.inject('router.start', { id: 'router-1', hosts: ['10.0.0.9'] });
    const again = h.on<RouteMessage>('router.register').slice(n);
    expect(again.map((m) => [m.private_instance_id, m.uris])).toEqual([[web.privateInstanceId, ['web.example.com']]]);
  });

  it('healthmanager.start → heartbeat, an empty one included', async () => {
    const h = await harness();
    const n = h.on('dea.heartbeat').length;
    h.inject('healthmanager.start', {});
    expect(h.on<HeartbeatMessage>('dea.heartbeat').slice(n)).toEqual([{ dea: DEA_ID, droplets: [] }]);

    const inst = await h.startRunning();
    h.inject('healthmanager.start', {});
    expect(h.on<HeartbeatMessage>('dea.heartbeat').at(-1)?.droplets.map((d) => d.instance)).toEqual([inst.instanceId]);
  });
});


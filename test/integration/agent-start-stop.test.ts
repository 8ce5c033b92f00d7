import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, startMessage, type AgentHandle } from '../support/agent-process.js';
import { connectTestClient, type TestBusClient } from '../support/bus-client.js';
import { buildDroplet, serveDroplets, type BuiltDroplet, type DropletServer } from '../support/droplets.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { eventually } from '../support/eventually.js';

let nats: NatsServerHandle;
let bus: TestBusClient;
let agent: AgentHandle;
let files: DropletServer;
let web: BuiltDroplet;

beforeAll(async () => {
  nats = await startNatsServer();
  bus = await connectTestClient(nats.url);
  const out = mkdtempSync(join(tmpdir(), 'dea-droplets-'));
  web = await buildDroplet('serves-http', out);
  files = await serveDroplets(out);
  agent = await startAgent({ natsUrl: nats.url });
});

afterAll(async () => {
  await agent?.stop();
  await bus?.close();
  await files?.close();
  await nats?.stop();
});

describe('a droplet started over the bus', () => {
  it('runs, answers HTTP on its port, is registered with the router, then stops and unregisters', async () => {
    const registered = bus.record('router.register');
    const unregistered = bus.record('router.unregister');
    const heartbeats = bus.record('dea.heartbeat');
    await Promise.all([registered.ready(), unregistered.ready(), heartbeats.ready()]);

    bus.publish(`dea.${agent.id}.start`, startMessage({ droplet: 'app-a', executableUri: files.url(web.path), sha1: web.sha1 }));

    const reg = await registered.waitFor((m) => m.data.app === 'app-a', 15_000);
    expect(reg.data).toMatchObject({
      dea: agent.id,
      app: 'app-a',
      uris: ['app-a.example.com'],
      host: '127.0.0.1',
      tags: { component: 'dea-0' },
    });
    expect(reg.data.private_instance_id).toMatch(/^[0-9a-f]{64}$/);
    const res = await fetch(`http://127.0.0.1:${reg.data.port}/`);
    expect(res.status).toBe(200);

    const hb = await heartbeats.waitFor((m) => m.data.droplets.some((d: { state: string }) => d.state === 'RUNNING'));
    const entry = hb.data.droplets.find((d: { droplet: string }) => d.droplet === 'app-a');
    expect(entry).toMatchObject({ cc_partition: 'default', droplet: 'app-a', version: 'v1', index: 0, state: 'RUNNING' });

    const [found] = await bus.request('dea.find.droplet', { droplet: 'app-a', include_stats: true }, { expect: 1 });
    expect(found).toMatchObject({ dea: agent.id, droplet: 'app-a', state: 'RUNNING', instance: entry.instance });
    expect(found.stats).toMatchObject({ name: 'web', port: reg.data.port, mem_quota: 128 * 1024 * 1024 });

    bus.publish('dea.stop', { droplet: 'app-a' });
    const unreg = await unregistered.waitFor((m) => m.data.app === 'app-a');
    expect(unreg.data.port).toBe(reg.data.port);
    await agent.waitForLog((l) => l.event === 'instance.stopped' && l.instance_id === entry.instance);
    await eventually(() => !existsSync(join(agent.baseDir, 'instances', entry.instance)), 5_000, 'instance directory removed');
    await expect(fetch(`http://127.0.0.1:${reg.data.port}/`)).rejects.toThrow();
  });
});

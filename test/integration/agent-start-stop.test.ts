import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMessage, type AgentHandle } from '../support/agent-process.js';
import { agentSuite, type AgentSuite } from '../support/agent-suite.js';
import type { TestBusClient } from '../support/bus-client.js';
import type { BuiltDroplet, DropletServer } from '../support/droplets.js';
import { eventually } from '../support/eventually.js';

// The suite removes the agent's base_dir and the droplets it built when it closes.
let s: AgentSuite;
let bus: TestBusClient;
let agent: AgentHandle;
let files: DropletServer;
let web: BuiltDroplet;

beforeAll(async () => {
  s = await agentSuite();
  ({ bus, agent, files } = s);
  web = await s.droplet('serves-http');
});

afterAll(async () => s?.close());

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

    const hb = await heartbeats.waitFor((m) => m.data.droplets.some((d: { state: string }) => d.state === 'RUNNING'), 15_000);
    const entry = hb.data.droplets.find((d: { droplet: string }) => d.droplet === 'app-a');
    expect(entry).toMatchObject({ cc_partition: 'default', droplet: 'app-a', version: 'v1', index: 0, state: 'RUNNING' });

    const [found] = await bus.request('dea.find.droplet', { droplet: 'app-a', include_stats: true }, { expect: 1 });
    expect(found).toMatchObject({ dea: agent.id, droplet: 'app-a', state: 'RUNNING', instance: entry.instance });
    expect(found.stats).toMatchObject({ name: 'web', port: reg.data.port, mem_quota: 128 * 1024 * 1024 });

    bus.publish('dea.stop', { droplet: 'app-a' });
    const unreg = await unregistered.waitFor((m) => m.data.app === 'app-a', 15_000);
    expect(unreg.data.port).toBe(reg.data.port);
    await agent.waitForLog((l) => l.event === 'instance.stopped' && l.instance_id === entry.instance, 15_000);
    await eventually(() => !existsSync(join(agent.baseDir, 'instances', entry.instance)), 15_000, 'instance directory removed');
    await expect(fetch(`http://127.0.0.1:${reg.data.port}/`)).rejects.toThrow();
  });
});

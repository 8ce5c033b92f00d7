/**
 * The life of instance networks through the real agent: 50 start/stop cycles leave no
 * namespace, veth, ifb, nft table or claim; an exhausted pool fails a start with a clear
 * exit_description and nothing half-made; an agent killed and restarted adopts the
 * network (same host port, same app); an instance that ends while no agent runs takes
 * its network with it (its supervisor removes it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import type { AgentHandle } from '../../support/agent-process.js';
import { sweepCgroupRoot, waitFor } from '../container/harness.js';
import { leftovers, removeLeftovers } from './leftovers.js';
import { READY_SLOTS } from '../../../src/network/index.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
const CGROUP_ROOT = `dea-nl-${randomBytes(4).toString('hex')}`;
let s: AgentSuite;
const baseDirs: string[] = [];

beforeAll(async () => {
  s = await agentSuite({ backend: { kind: 'container', container: { cgroup_root: CGROUP_ROOT } } });
  baseDirs.push(s.agent.baseDir);
}, 60_000);

afterAll(async () => {
  await s?.close();
  // Stopped agents removed their instances' networks and those they had made ahead.
  const left: string[] = [];
  for (const dir of baseDirs) left.push(...(await leftovers(dir)));
  for (const dir of baseDirs) await removeLeftovers(dir);
  expect(left.join('\n')).toBe('');
  await sweepCgroupRoot(CGROUP_ROOT);
  await sweepCgroupRoot(`${CGROUP_ROOT}-x`);
}, 60_000);

/** A worker (no URIs: healthy at once) that only sleeps: starts are as cheap as they get. */
const worker = { uris: [], limits: { mem: 32, disk: 64, fds: 256 }, start_command: 'exec sleep 600' };

async function started(agent: AgentHandle, app: string, over: Record<string, unknown> = {}): Promise<any> {
  await s.startOn(agent, 'serves-http-v2', app, over);
  let found: any;
  await waitFor(async () => {
    [found] = await s.find({ droplet: app }, agent);
    expect(found?.state).toBe('RUNNING');
  }, 30_000);
  return found;
}

async function stopped(agent: AgentHandle, apps: string[]): Promise<void> {
  for (const app of apps) s.bus.publish('dea.stop', { droplet: app });
  await waitFor(async () => {
    for (const app of apps) expect(await s.find({ droplet: app }, agent)).toEqual([]);
  }, 30_000);
}

describe('clean-up', () => {
  it('50 start/stop cycles leave nothing of the networks behind', async () => {
    const BATCH = 5;
    for (let round = 0; round < 50 / BATCH; round++) {
      const apps = Array.from({ length: BATCH }, (_, i) => `nl-cycle-${round}-${i}`);
      await Promise.all(apps.map((app) => started(s.agent, app, worker)));
      // A host port claim per instance (networks made ahead hold none).
      expect((await leftovers(s.agent.baseDir)).filter((l) => l.startsWith('ports'))).toHaveLength(BATCH);
      await stopped(s.agent, apps);
    }
    // Only the networks made ahead for the next starts are left (the agent's stop removes them: afterAll).
    await waitFor(async () => {
      const left = await leftovers(s.agent.baseDir);
      expect(left.filter((l) => l.startsWith('ports'))).toEqual([]);
      expect(left.filter((l) => l.startsWith('netns')).length).toBeLessThanOrEqual(READY_SLOTS);
      expect(left.filter((l) => l.startsWith('table')).length).toBeLessThanOrEqual(READY_SLOTS);
    }, 10_000);
  }, 240_000);
});

describe('pool exhaustion', () => {
  it('a start beyond the pool fails with a clear exit_description and nothing half-made', async () => {
    // A /29: two /30s; memory for four instances of 64 MB (capacity allows the pool).
    const agent = await s.startAgent({
      config: {
        backend: { kind: 'container', container: { cgroup_root: `${CGROUP_ROOT}-x`, network: { pool: '10.254.250.0/29' } } },
        resources: { memory_mb: 256, disk_mb: 4096 },
      },
    });
    baseDirs.push(agent.baseDir);
    await started(agent, 'nl-full-1', worker);
    await started(agent, 'nl-full-2', worker);
    const exited = s.bus.record('droplet.exited');
    await exited.ready();
    await s.startOn(agent, 'serves-http-v2', 'nl-full-3', worker);
    const m = await exited.waitFor((x) => x.data.droplet === 'nl-full-3', 30_000);
    exited.stop();
    expect(m.data.reason).toBe('CRASHED');
    expect(m.data.exit_description).toBe('failed to start: no free subnet (all 2 /30s of the network pool are taken)');
    // The failed start's port goes back as its instance is cleared up.
    await waitFor(async () => {
      const left = await leftovers(agent.baseDir);
      expect(left.filter((l) => l.startsWith('netns'))).toHaveLength(2);
      expect(left.filter((l) => l.startsWith('ports'))).toHaveLength(2);
    }, 10_000);
    await stopped(agent, ['nl-full-1', 'nl-full-2']);
    expect(await agent.stop()).toBe(0);
    await waitFor(async () => expect(await leftovers(agent.baseDir)).toEqual([]), 10_000);
  }, 120_000);
});

describe('after the agent', () => {
  it('a restarted agent adopts the network; an instance ending with no agent takes its network with it', async () => {
    const config = { backend: { kind: 'container', container: { cgroup_root: `${CGROUP_ROOT}-x` } } };
    const agent = await s.startAgent({ config });
    baseDirs.push(agent.baseDir);
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.startOn(agent, 'serves-http', 'nl-adopted');
    const r = await reg.waitFor((m) => m.data.app === 'nl-adopted', 30_000);
    reg.stop();
    const port = r.data.port as number;
    await started(agent, 'nl-orphan', worker);
    const [orphan] = await s.find({ droplet: 'nl-orphan' }, agent);
    const runDir = join(agent.baseDir, 'db', 'supervise', orphan.instance);
    const orphanNet = JSON.parse(readFileSync(join(runDir, 'handle.json'), 'utf8')).netId as string;
    expect(orphanNet).toMatch(/^[0-9a-f]{32}$/);
    // A worker is RUNNING at once; its rules go in meanwhile. From net-ready on, its
    // supervisor owns the clean-up (before, an agent killed leaves it to the next agent's sweep).
    await waitFor(() => expect(existsSync(join(runDir, 'net-ready'))).toBe(true), 15_000);
    agent.child.kill('SIGKILL');
    await agent.exited;
    // Still served through its mapping with nobody watching.
    expect(((await (await fetch(`http://127.0.0.1:${port}/`)).json()) as any).app).toBe('serves-http');
    // The orphan ends (its processes TERMed, as an operator might): its supervisor removes its network.
    const procs = join('/sys/fs/cgroup/pids', `${CGROUP_ROOT}-x`, orphan.instance, 'cgroup.procs');
    for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number)) process.kill(pid, 'SIGTERM');
    await waitFor(async () => expect((await leftovers(agent.baseDir)).filter((l) => l.includes(orphanNet) || l.includes(orphanNet.slice(0, 10)))).toEqual([]), 15_000);
    const next = await s.startAgent({ baseDir: agent.baseDir, config });
    const [found] = await s.find({ droplet: 'nl-adopted' }, next);
    expect(found.state).toBe('RUNNING');
    expect(((await (await fetch(`http://127.0.0.1:${port}/`)).json()) as any).app).toBe('serves-http');
    await stopped(next, ['nl-adopted']);
    expect(await next.stop()).toBe(0);
    await waitFor(async () => expect(await leftovers(agent.baseDir)).toEqual([]), 10_000);
  }, 120_000);
});

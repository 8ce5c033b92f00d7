/**
 * Elastic memory through the real agent (docs/containers.md): a pool of 180 MB; an instance with
 * a 64 MB guarantee borrows up to ~118 MB and keeps running while there is room; a second
 * one grows within its own 96 MB guarantee until the pool is full; the agent, not the
 * kernel, ends the borrower as CRASHED with the reclaim description, the other keeps
 * running, and the agent is never touched. The agent sits in its own CPU group.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { detectCgroupHost } from '../../../src/backends/container/index.js';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { roundTrip } from '../../support/round-trip.js';
import { sweepCgroupRoot, waitFor } from './harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
const CGROUP_ROOT = `dea-elastic-it-${randomBytes(4).toString('hex')}`;
const MIB = 1024 * 1024;
let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({
    backend: { kind: 'container', container: { cgroup_root: CGROUP_ROOT, memory_policy: 'elastic', network: { enabled: false } } },
    resources: { memory_mb: 180, reserved_memory_mb: 256, reserved_cpu_shares: 512 },
    instance: { stop_grace_secs: 2, elastic: { max_factor: 2.5 } },
    monitor: { interval_ms: 250 },
  });
}, 60_000);
afterAll(async () => {
  await s?.close();
  await sweepCgroupRoot(CGROUP_ROOT);
});

const memOf = async (app: string) => ((await s.find({ droplet: app, include_stats: true }))[0]?.stats?.usage?.mem as number | undefined) ?? 0;

it('reclaims from the instance furthest above its guarantee when the pool fills, and only from it', async () => {
  const exits = s.bus.record('droplet.exited');
  const regs = s.bus.record('router.register');
  await Promise.all([exits.ready(), regs.ready()]);
  // A few MB of Node plus 110 MB: about 118 MB against a 64 MB guarantee.
  await s.start('memory-hog', 'el-borrower', { limits: { mem: 64, disk: 256, fds: 1024 }, env: ['HOG_MAX_MB=110', 'HOG_STEP_MB=10'] });
  await regs.waitFor((m) => m.data.app === 'el-borrower', 60_000);
  await waitFor(async () => expect(await memOf('el-borrower')).toBeGreaterThan(100 * MIB), 60_000);
  const [borrower] = await s.find({ droplet: 'el-borrower' });
  expect(borrower.state).toBe('RUNNING');
  // varz and /metrics show it borrowing above its guarantee.
  const [disc] = await s.bus.request('vcap.component.discover', {}, { expect: 1 });
  const [user, pass] = disc.credentials as [string, string];
  const headers = { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
  const varz = (await (await fetch(`http://${disc.host}/varz`, { headers })).json()) as any;
  expect(varz.memory_policy).toBe('elastic');
  expect(varz.apps_borrowed_memory).toBeGreaterThan(0);
  const entry = varz.instance_registry['el-borrower'][borrower.instance];
  expect(entry.memory_guarantee_in_bytes).toBe(64 * MIB);
  expect(entry.borrowed_memory_in_bytes).toBeGreaterThan(0);
  const metrics = await (await fetch(`http://${disc.host}/metrics`, { headers })).text();
  expect(metrics).toMatch(/^dea_instance_memory_borrowed_bytes\{[^}]*app="el-borrower"[^}]*\} [1-9]\d*$/m);
  expect(metrics).toMatch(/^dea_memory_borrowed_bytes [1-9]\d*$/m);
  // Within its 96 MB guarantee (about 83 MB), but together they pass the 180 MB pool.
  await s.start('memory-hog', 'el-modest', { limits: { mem: 96, disk: 256, fds: 1024 }, env: ['HOG_MAX_MB=75', 'HOG_STEP_MB=10'] });
  const exit = await exits.waitFor((m) => m.data.droplet === 'el-borrower', 60_000);
  expect(exit.data.reason).toBe('CRASHED');
  expect(exit.data.exit_description).toMatch(/^out of memory: reclaimed for other instances \(used \d+ MB of a 64 MB guarantee\)$/);
  const used = Number(/used (\d+) MB/.exec(exit.data.exit_description)![1]);
  expect(used).toBeGreaterThan(64);
  // The modest one finishes its growth and runs on; nothing else was reclaimed.
  await regs.waitFor((m) => m.data.app === 'el-modest', 60_000);
  await waitFor(async () => expect(await memOf('el-modest')).toBeGreaterThan(70 * MIB), 60_000);
  const [modest] = await s.find({ droplet: 'el-modest' });
  expect(modest.state).toBe('RUNNING');
  await roundTrip(s.bus, s.agent.id);
  expect(exits.all().filter((m) => m.data.droplet === 'el-modest')).toEqual([]);
  // The reason is in the crashed instance's stderr.log too.
  const stderr = join(s.agent.baseDir, 'crashes', exit.data.instance, 'logs', 'stderr.log');
  await waitFor(() => expect(existsSync(stderr) && readFileSync(stderr, 'utf8')).toContain('reclaimed for other instances'), 15_000);
  exits.stop();
  regs.stop();
}, 180_000);

it('keeps the agent in a CPU group of its own with the reserved shares', () => {
  const cpu = detectCgroupHost().v1.get('cpu');
  expect(cpu, 'needs the cgroup v1 cpu controller').toBeDefined();
  const procs = readFileSync(join(cpu!, `${CGROUP_ROOT}-agent`, 'cgroup.procs'), 'utf8').split('\n');
  expect(procs).toContain(String(s.agent.child.pid));
  expect(readFileSync(join(cpu!, `${CGROUP_ROOT}-agent`, 'cpu.shares'), 'utf8').trim()).toBe('512');
});

it('keeps its heartbeat interval within 10 % while its instances burn every core', async () => {
  const root = `${CGROUP_ROOT}-cpu`;
  try {
    const agent = await s.startAgent({ config: { backend: { kind: 'container', container: { cgroup_root: root, network: { enabled: false } } }, intervals: { heartbeat: 1 } } });
    const regs = s.bus.record('router.register');
    await regs.ready();
    // One more burner than this machine has cores.
    const burners = ['el-burn-1', 'el-burn-2', 'el-burn-3'];
    for (const app of burners) await s.startOn(agent, 'busy-cpu', app, { limits: { mem: 64, disk: 256, fds: 1024 } });
    for (const app of burners) await regs.waitFor((m) => m.data.app === app && m.data.dea === agent.id, 60_000);
    regs.stop();
    const beats = s.bus.record('dea.heartbeat');
    await beats.ready();
    await beats.waitFor(() => beats.all().filter((m) => m.data.dea === agent.id).length >= 13, 60_000);
    const times = beats.all().filter((m) => m.data.dea === agent.id).map((m) => m.receivedAt);
    beats.stop();
    const intervals = times.slice(1).map((t, i) => t - times[i]!);
    for (const ms of intervals) {
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThanOrEqual(1100);
    }
    expect(await agent.stop()).toBe(0);
  } finally {
    await sweepCgroupRoot(root);
  }
}, 180_000);

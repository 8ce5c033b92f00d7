/**
 * Surviving a kill -9 of the agent (protocol §11.4), on both backends: the next agent on
 * the same base_dir adopts what still runs (the very same processes, routes registered
 * again, heartbeated), reports CRASHED with the real exit status what died while no
 * agent ran, ends what was caught starting, and sets an unreadable snapshot aside.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../../src/backends/container/index.js';
import type { AgentHandle } from '../../support/agent-process.js';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { sweepCgroupRoot, waitFor } from '../container/harness.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
const CGROUP_ROOT = `dea-adopt-${randomBytes(4).toString('hex')}`;
let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({ backend: { kind: 'process' } });
});
afterAll(async () => {
  await s?.close();
  await sweepCgroupRoot(CGROUP_ROOT);
});

const get = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as any;

/** Kills an app while no agent watches it, as a crash would. */
function killApp(kind: string, agent: AgentHandle, instance: string, reply: any): void {
  if (kind === 'process') {
    process.kill(-reply.pid, 'SIGKILL'); // the app's own process group
    return;
  }
  const host = detectCgroupHost();
  const procs = join(host.v1.get('memory') ?? host.unified!, CGROUP_ROOT, instance, 'cgroup.procs');
  for (const pid of readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      // The container's init went first, and its namespace took the rest with it.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  void agent;
}

describe.each(['process', 'container'])('after kill -9 of a %s-backend agent', (kind) => {
  const config = { backend: { kind, container: { cgroup_root: CGROUP_ROOT } } };

  it('adopts the same running processes, re-registers their routes, and reports the one that died meanwhile', async () => {
    const first = await s.startAgent({ config });
    const reg = s.bus.record('router.register');
    await reg.ready();
    const apps = ['one', 'two', 'three'].map((a) => `adopt-${kind}-${a}`);
    for (const app of apps) await s.startOn(first, 'serves-http', app);
    const ports = new Map<string, number>();
    for (const app of apps) ports.set(app, (await reg.waitFor((m) => m.data.app === app && m.data.dea === first.id, 30_000)).data.port as number);
    const before = new Map<string, any>();
    for (const app of apps) before.set(app, await get(ports.get(app)!));
    const found = new Map<string, string>();
    for (const app of apps) found.set(app, (await s.find({ droplet: app }, first))[0].instance as string);

    first.child.kill('SIGKILL');
    await first.exited;
    const [doomed, ...survivors] = apps as [string, ...string[]];
    killApp(kind, first, found.get(doomed)!, before.get(doomed));

    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    const next = await s.startAgent({ baseDir: first.baseDir, config });
    // Routes again, from the new agent, for the survivors: the same processes answer.
    for (const app of survivors) {
      const r = await reg.waitFor((m) => m.data.app === app && m.data.dea === next.id, 30_000);
      expect(r.data.port).toBe(ports.get(app));
      const now = await get(ports.get(app)!);
      expect(now.boot).toBe(before.get(app).boot);
    }
    const exit = await exits.waitFor((m) => m.data.droplet === doomed, 30_000);
    expect(exit.data).toMatchObject({ reason: 'CRASHED', instance: found.get(doomed), exit_status: 137 });
    // The survivors run under the new agent: found, RUNNING, and stoppable by it.
    for (const app of survivors) expect((await s.find({ droplet: app }, next))[0].state).toBe('RUNNING');
    const [crashed] = await s.find({ droplet: doomed }, next);
    expect(crashed?.state ?? 'CRASHED').toBe('CRASHED');
    const unreg = s.bus.record('router.unregister');
    await unreg.ready();
    for (const app of survivors) s.bus.publish('dea.stop', { droplet: app });
    for (const app of survivors) await unreg.waitFor((m) => m.data.app === app, 30_000);
    reg.stop();
    exits.stop();
    unreg.stop();
    expect(await next.stop()).toBe(0);
    // A clean stop leaves an empty snapshot and, for containers, no uid taken.
    const snap = JSON.parse(readFileSync(join(first.baseDir, 'db', 'instances.json'), 'utf8'));
    expect(snap.instances.filter((i: any) => i.state !== 'CRASHED')).toEqual([]);
    if (kind === 'container') expect(readdirSync(join(first.baseDir, 'db', 'uids'))).toEqual([]);
  }, 120_000);

  it('ends an instance caught starting: CRASHED, its process gone', async () => {
    const first = await s.startAgent({ config });
    await s.startOn(first, 'never-listens', `adopt-${kind}-starting`, { health_check_timeout: 120 });
    const app = `adopt-${kind}-starting`;
    // Launched (its process exists and the snapshot knows it), still STARTING.
    await first.waitForLog((l) => l.event === 'instance.launched', 30_000);
    const [found] = await s.find({ droplet: app }, first);
    expect(found.state).toBe('STARTING');
    const runDir = join(first.baseDir, 'db', 'supervise', found.instance as string);
    await waitFor(() => expect(JSON.parse(readFileSync(join(first.baseDir, 'db', 'instances.json'), 'utf8')).instances[0].handle).not.toBeNull());
    first.child.kill('SIGKILL');
    await first.exited;
    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    const next = await s.startAgent({ baseDir: first.baseDir, config });
    const exit = await exits.waitFor((m) => m.data.droplet === app, 30_000);
    expect(exit.data).toMatchObject({ reason: 'CRASHED', exit_description: 'failed to start' });
    await waitFor(() => expect(existsSync(runDir)).toBe(false), 30_000);
    exits.stop();
    expect(await next.stop()).toBe(0);
  }, 120_000);
});

describe.each(['process', 'container'])('what no snapshot explains (%s backend)', (kind) => {
  it('is ended and removed at the next start: processes, supervisor records, directories, mounts', async () => {
    const config = { backend: { kind, container: { cgroup_root: CGROUP_ROOT } } };
    const first = await s.startAgent({ config });
    const reg = s.bus.record('router.register');
    await reg.ready();
    const app = `adopt-${kind}-stray`;
    await s.startOn(first, 'serves-http', app);
    const r = await reg.waitFor((m) => m.data.app === app, 30_000);
    reg.stop();
    first.child.kill('SIGKILL');
    await first.exited;
    // As if the snapshot had never been written.
    rmSync(join(first.baseDir, 'db', 'instances.json'));
    const next = await s.startAgent({ baseDir: first.baseDir, config });
    await next.waitForLog((l) => l.event === 'staging.dirs.swept', 15_000);
    await expect(fetch(`http://127.0.0.1:${r.data.port}/`)).rejects.toThrow();
    expect(readdirSync(join(first.baseDir, 'instances'))).toEqual([]);
    expect(readdirSync(join(first.baseDir, 'db', 'supervise'))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(join(first.baseDir, 'instances'));
    expect(await next.stop()).toBe(0);
  }, 90_000);
});

describe('a snapshot that cannot be read', () => {
  it('is set aside and logged, and the agent serves anyway', async () => {
    const first = await s.startAgent({ config: { backend: { kind: 'process' } } });
    expect(await first.stop()).toBe(0);
    writeFileSync(join(first.baseDir, 'db', 'instances.json'), '{"version": 1, "instances": [{"state": "RUN');
    const next = await s.startAgent({ baseDir: first.baseDir, config: { backend: { kind: 'process' } } });
    const line = await next.waitForLog((l) => l.event === 'snapshot.unusable', 15_000);
    expect(line.problem).toBe('not JSON');
    expect(readdirSync(join(first.baseDir, 'db')).some((f) => f.startsWith('instances.json.unusable-'))).toBe(true);
    await s.roundTrip(next);
    expect(await next.stop()).toBe(0);
  });
});

describe('a reused pid', () => {
  it('is not taken for the instance whose supervisor had it: the instance is CRASHED, the stranger untouched', async () => {
    const config = { backend: { kind: 'process' } };
    const first = await s.startAgent({ config });
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.startOn(first, 'serves-http', 'adopt-pid-reuse');
    const r = await reg.waitFor((m) => m.data.app === 'adopt-pid-reuse', 30_000);
    reg.stop();
    const app = await get(r.data.port as number);
    first.child.kill('SIGKILL');
    await first.exited;
    // The instance and its supervisor die; a process of ours gets the supervisor's pid
    // in the snapshot (as a reused pid would), with another start time.
    const snapPath = join(first.baseDir, 'db', 'instances.json');
    const snap = JSON.parse(readFileSync(snapPath, 'utf8'));
    const entry = snap.instances.find((i: any) => i.spec.applicationId === 'adopt-pid-reuse');
    process.kill(Number(entry.handle.supervisorPid), 'SIGKILL');
    process.kill(-app.pid, 'SIGKILL');
    const { spawn } = await import('node:child_process');
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await waitFor(() => expect(existsSync(`/proc/${entry.handle.supervisorPid}`)).toBe(false));
      entry.handle.supervisorPid = stranger.pid;
      writeFileSync(snapPath, JSON.stringify(snap));
      const exits = s.bus.record('droplet.exited');
      await exits.ready();
      const next = await s.startAgent({ baseDir: first.baseDir, config });
      const exit = await exits.waitFor((m) => m.data.droplet === 'adopt-pid-reuse', 30_000);
      exits.stop();
      expect(exit.data.reason).toBe('CRASHED');
      expect(stranger.exitCode).toBeNull();
      expect(() => process.kill(stranger.pid!, 0)).not.toThrow();
      expect(await next.stop()).toBe(0);
    } finally {
      stranger.kill('SIGKILL');
    }
  }, 90_000);
});

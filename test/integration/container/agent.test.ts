/**
 * The real agent on the container backend, driven over a real nats-server: an app runs in
 * a container of its own and is routed; its usage and cgroup figures reach find.droplet,
 * varz and /metrics; a memory hog ends CRASHED "out of memory"; a fork bomb stops at the
 * process limit while a neighbour keeps serving; a stop leaves no group or uid; and a
 * container outlives a SIGKILLed agent, whose supervisor records the exit meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../../src/backends/container/index.js';
import { agentSuite, type AgentSuite } from '../../support/agent-suite.js';
import { sweepCgroupRoot, waitFor } from './harness.js';

const CGROUP_ROOT = `dea-it-${randomBytes(4).toString('hex')}`;
const ORPHAN_ROOT = `${CGROUP_ROOT}-orphan`;
const NPROC = 64;
const host = detectCgroupHost();
let s: AgentSuite;

beforeAll(async () => {
  // `auto`: where cgroups are writable (here, as root) it must pick the container backend.
  s = await agentSuite({
    backend: { kind: 'auto', container: { cgroup_root: CGROUP_ROOT } },
    instance: { nproc_limit: NPROC },
    monitor: { interval_ms: 250 },
  });
});
afterAll(async () => {
  await s?.close();
  await sweepCgroupRoot(CGROUP_ROOT);
  await sweepCgroupRoot(ORPHAN_ROOT);
});

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */
async function running(app: string, fixture: string, over: Record<string, unknown> = {}): Promise<{ port: number; instance: string }> {
  const reg = s.bus.record('router.register');
  await reg.ready();
  await s.start(fixture, app, over);
  const r = await reg.waitFor((m) => m.data.app === app, 30_000);
  reg.stop();
  const [found] = await s.find({ droplet: app });
  return { port: r.data.port as number, instance: found.instance as string };
}

const groupDir = (controller: 'memory' | 'pids' | 'cpu', instance: string) => join(host.v1.get(controller) ?? host.unified ?? '/nonexistent', CGROUP_ROOT, instance);
const get = async (port: number, path = '/') => (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as any;

describe('an app in a container', () => {
  it('runs, is routed, and sees itself as a container app: its own uid, /home/vcap, its own groups', async () => {
    const { port, instance } = await running('ct-web', 'serves-http', { limits: { mem: 96, disk: 256, fds: 1024 } });
    const self = await get(port);
    expect(self.uid).toBeGreaterThanOrEqual(40_000);
    expect(self.cwd).toBe('/home/vcap');
    const env = await get(port, '/env');
    expect(env.HOME.startsWith('/home/vcap')).toBe(true);
    expect(env.TMPDIR).toBe('/home/vcap/tmp');
    expect(self.pid).toBeLessThan(10); // its own PID namespace
    expect(readFileSync(join(groupDir('memory', instance), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(96 * 1024 * 1024));
    expect(readFileSync(join(groupDir('pids', instance), 'pids.max'), 'utf8').trim()).toBe(String(NPROC));
    // Shares follow memory: 96 MB / the default ratio of 8.
    if (host.v1.has('cpu')) expect(readFileSync(join(groupDir('cpu', instance), 'cpu.shares'), 'utf8').trim()).toBe('12');
  });

  it('keeps the process backend\'s v2 semantics: staging_info.yml\'s command in app/ after .profile.d, values literal', async () => {
    const tricky = '$HOME;echo pwned `id` "quoted" ../../etc';
    const { port } = await running('ct-v2', 'serves-http-v2', { env: ['FOO=bar', `TRICKY=${tricky}`], limits: { mem: 64, disk: 256, fds: 300 } });
    const env = await get(port, '/env');
    const self = await get(port);
    expect(env.TRICKY).toBe(tricky);
    expect(env.FOO).toBe('bar');
    expect(env.PROFILE_D_RAN).toBe('yes');
    expect(env.MEMORY_LIMIT).toBe('64m');
    expect(env.DEA_START_COMMAND).toBeUndefined();
    expect(env.HOME).toBe('/home/vcap/app');
    expect(self.cwd).toBe('/home/vcap/app');
    expect(self.uid).toBeGreaterThanOrEqual(40_000);
  });

  it('reports its cgroup figures in find.droplet stats, varz names the backend, /metrics has the gauges', async () => {
    await running('ct-stats', 'serves-http');
    // memory.stat (rss, cache) is read every 10th monitor reading: wait for one after boot.
    await waitFor(async () => {
      const [r] = await s.find({ droplet: 'ct-stats', include_stats: true });
      expect(r.stats.container.pids).toBeGreaterThanOrEqual(2);
      expect(r.stats.container.mem_rss).toBeGreaterThan(1024 * 1024);
    }, 30_000);
    const [reply] = await s.find({ droplet: 'ct-stats', include_stats: true });
    expect(reply.stats.usage.mem).toBeGreaterThan(1024 * 1024);
    expect(reply.stats.container.oom_kills).toBe(0);
    const [disc] = await s.bus.request('vcap.component.discover', {}, { expect: 1 });
    const [user, pass] = disc.credentials as [string, string];
    const headers = { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
    const varz = (await (await fetch(`http://${disc.host}/varz`, { headers })).json()) as any;
    expect(varz.backend).toBe('container');
    // And its log says so, with the cgroup layout it detected.
    expect(s.agent.logs().find((l) => l.event === 'backend.chosen')).toMatchObject({ kind: 'container', asked: 'auto' });
    expect(s.agent.logs().find((l) => l.event === 'backend.cgroups')).toMatchObject({ layout: host.layout });
    const metrics = await (await fetch(`http://${disc.host}/metrics`, { headers })).text();
    expect(metrics).toMatch(/^dea_instance_pids\{[^}]*app="ct-stats"[^}]*\} \d+$/m);
  });

  it('a memory hog is CRASHED with "out of memory", killed by the kernel inside its group', async () => {
    const exited = s.bus.record('droplet.exited');
    await exited.ready();
    await s.start('memory-hog', 'ct-hog', { limits: { mem: 64, disk: 256, fds: 1024 } });
    const m = await exited.waitFor((x) => x.data.droplet === 'ct-hog', 60_000);
    exited.stop();
    expect(m.data.reason).toBe('CRASHED');
    expect(m.data.exit_description).toBe('out of memory');
    expect(m.data.exit_status).toBe(137);
  }, 90_000);

  it('a fork bomb stops at the process limit while a neighbour keeps serving', async () => {
    const neighbour = await running('ct-neighbour', 'serves-http');
    const bomb = await running('ct-bomb', 'fork-bomb');
    const events = join(groupDir('pids', bomb.instance), 'pids.events');
    if (host.v1.has('pids')) {
      await waitFor(() => expect(Number(/max (\d+)/.exec(readFileSync(events, 'utf8'))?.[1])).toBeGreaterThan(0), 30_000);
      expect(Number(readFileSync(join(groupDir('pids', bomb.instance), 'pids.current'), 'utf8'))).toBeLessThanOrEqual(NPROC);
    }
    for (let i = 0; i < 5; i++) expect((await get(neighbour.port)).app).toBe('serves-http');
    const stopped = s.bus.record('droplet.exited');
    s.bus.publish('dea.stop', { droplet: 'ct-bomb' });
    await waitFor(() => expect(existsSync(groupDir('pids', bomb.instance))).toBe(false), 30_000);
    stopped.stop();
  }, 90_000);

  it('a stop leaves no group, uid or supervisor record behind', async () => {
    const { instance } = await running('ct-stop', 'serves-http');
    // Its own uid, from the record its launch left (other tests' instances come and go).
    const handle = JSON.parse(readFileSync(join(s.agent.baseDir, 'db', 'supervise', instance, 'handle.json'), 'utf8')) as { uid: number };
    const uidDir = join(s.agent.baseDir, 'db', 'uids', String(handle.uid));
    expect(existsSync(uidDir)).toBe(true);
    const unreg = s.bus.record('router.unregister');
    await unreg.ready();
    s.bus.publish('dea.stop', { droplet: 'ct-stop' });
    await unreg.waitFor((m) => m.data.app === 'ct-stop', 30_000);
    unreg.stop();
    await waitFor(() => expect(existsSync(groupDir('memory', instance))).toBe(false), 30_000);
    await waitFor(() => expect(existsSync(join(s.agent.baseDir, 'db', 'supervise', instance))).toBe(false));
    await waitFor(() => expect(existsSync(uidDir)).toBe(false));
  });
});

describe('the droplet in a container', () => {
  it("is the app's own to change in its view, while the shared tree stays untouched", async () => {
    await s.start('serves-http-v2', 'ct-writes', {
      uris: [],
      start_command: 'echo changed >> server.js && mkdir made && echo ok > made/f && echo "write-ok"; exec sleep 600',
    });
    const [found] = await waitForFind(s.agent, 'ct-writes');
    const dir = join(s.agent.baseDir, 'instances', found.instance as string);
    await waitFor(() => expect(readFileSync(join(dir, 'logs', 'stdout.log'), 'utf8')).toContain('write-ok'), 30_000);
    expect(readFileSync(join(dir, 'app', 'server.js'), 'utf8')).toContain('changed');
    // Every other instance of the droplet still sees the droplet as it came.
    const trees = readdirSync(join(s.agent.baseDir, 'droplets')).map((sha1) => join(s.agent.baseDir, 'droplets', sha1, 'lower', 'tree', 'app', 'server.js'));
    const tree = trees.find((t) => existsSync(t) && readFileSync(t, 'utf8').includes('serves-http'));
    expect(tree).toBeDefined();
    expect(readFileSync(tree!, 'utf8')).not.toContain('changed');
  });
});

describe('a container without its agent', () => {
  it('keeps running after the agent is SIGKILLed, its supervisor records the exit, and the next agent reports and clears it', async () => {
    // A cgroup root of its own: the next agent sweeps what it finds under its root.
    const config = { backend: { kind: 'container', container: { cgroup_root: ORPHAN_ROOT } } };
    const agent = await s.startAgent({ config });
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.startOn(agent, 'serves-http', 'ct-orphan');
    const r = await reg.waitFor((m) => m.data.app === 'ct-orphan', 30_000);
    reg.stop();
    const [found] = await s.find({ droplet: 'ct-orphan' }, agent);
    const instance = found.instance as string;
    agent.child.kill('SIGKILL');
    await agent.exited;
    // Still serving with nobody watching.
    expect((await get(r.data.port as number)).app).toBe('serves-http');
    // It ends (TERM to its processes, as an operator might); the supervisor records it.
    const group = join(host.v1.get('memory') ?? host.unified ?? '/nonexistent', ORPHAN_ROOT, instance);
    const procs = readFileSync(join(group, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    for (const pid of procs) process.kill(pid, 'SIGTERM');
    const runDir = join(agent.baseDir, 'db', 'supervise', instance);
    await waitFor(() => expect(readFileSync(join(runDir, 'exit_status'), 'utf8').trim()).toBe('0'), 30_000);
    expect(readdirSync(join(agent.baseDir, 'db', 'uids'))).toHaveLength(1);
    // The next agent on the same base_dir adopts it from the snapshot: it ended with its
    // exit recorded, so it is reported CRASHED with that exit and released, all of it.
    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    const next = await s.startAgent({ baseDir: agent.baseDir, config });
    const exit = await exits.waitFor((m) => m.data.droplet === 'ct-orphan', 15_000);
    exits.stop();
    expect(exit.data).toMatchObject({ reason: 'CRASHED', exit_status: 0 });
    expect(existsSync(group)).toBe(false);
    expect(existsSync(runDir)).toBe(false);
    expect(readdirSync(join(agent.baseDir, 'db', 'uids'))).toEqual([]);
    expect(await next.stop()).toBe(0);
  }, 90_000);
});

describe('auto where cgroups are not writable', () => {
  it('falls back to the process backend and says why, in its log and in varz', async () => {
    // A cgroup root below a cgroup file: its mkdir fails (ENOTDIR) in every hierarchy.
    const agent = await s.startAgent({ config: { backend: { kind: 'auto', container: { cgroup_root: 'cgroup.procs/dea' } } } });
    try {
      expect(agent.logs().find((l) => l.event === 'backend.container.unavailable')?.why).toMatch(/^cgroups are not writable: /);
      expect(agent.logs().find((l) => l.event === 'backend.chosen')).toMatchObject({ kind: 'process', asked: 'auto' });
      const [disc] = await s.bus.request('vcap.component.discover', {}, { expect: 2 }).then((all) => all.filter((d) => d.uuid === agent.id || String(d.uuid).startsWith(agent.id)));
      expect(disc, 'the agent answers vcap.component.discover').toBeDefined();
      const [user, pass] = disc.credentials as [string, string];
      const headers = { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
      expect(((await (await fetch(`http://${disc.host}/varz`, { headers })).json()) as any).backend).toBe('process');
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});

describe('a start that cannot make its container', () => {
  it('ends CRASHED with the reason when the rootfs is missing, and leaves no group (so no process in one), uid, supervisor record or mount', async () => {
    const root = `${CGROUP_ROOT}-nofs`;
    const missing = `/nonexistent-rootfs-${randomBytes(4).toString('hex')}`;
    const agent = await s.startAgent({
      config: { stacks: [{ name: 'cflinuxfs4', package_path: missing }], backend: { kind: 'container', container: { cgroup_root: root } } },
    });
    try {
      const exited = s.bus.record('droplet.exited');
      await exited.ready();
      await s.startOn(agent, 'serves-http', 'ct-nofs');
      const m = await exited.waitFor((x) => x.data.droplet === 'ct-nofs', 30_000);
      exited.stop();
      expect(m.data.reason).toBe('CRASHED');
      // What is wrong, without the node's own paths.
      expect(m.data.exit_description).toBe("failed to start: the stack's root filesystem is missing on this node");
      const groups = [...new Set(host.v1.values()), ...(host.unified ? [host.unified] : [])].flatMap((h) => {
        try {
          return readdirSync(join(h, root), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(h, root, e.name));
        } catch {
          return [];
        }
      });
      expect(groups).toEqual([]);
      expect(readdirSync(join(agent.baseDir, 'db', 'uids'))).toEqual([]);
      expect(readdirSync(join(agent.baseDir, 'db', 'supervise'))).toEqual([]);
      // The crash's clean-up (the view's unmount among it) follows its report.
      const mountsLeft = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(join(agent.baseDir, 'instances')));
      await waitFor(() => expect(mountsLeft()).toEqual([]));
      // The agent is still well: it answers, and it has no instance left of the app.
      await s.roundTrip(agent);
      expect(await s.find({ droplet: 'ct-nofs', states: ['STARTING', 'RUNNING'] }, agent)).toEqual([]);
      // A clean stop takes the agent's own CPU group with it (its spawn helper was in it).
      const cpu = host.v1.get('cpu');
      expect(await agent.stop()).toBe(0);
      if (cpu !== undefined) expect(existsSync(join(cpu, `${root}-agent`))).toBe(false);
    } finally {
      expect(await agent.stop()).toBe(0);
      await sweepCgroupRoot(root);
    }
  }, 60_000);
});

describe('100 starts and stops through the agent', () => {
  it('leave no group, mount, process, uid, supervisor record or instance directory behind', async () => {
    const root = `${CGROUP_ROOT}-cycles`;
    const agent = await s.startAgent({ config: { backend: { kind: 'container', container: { cgroup_root: root } } } });
    const hierarchies = [...new Set(host.v1.values()), ...(host.unified ? [host.unified] : [])];
    const groups = () => hierarchies.flatMap((h) => {
      try {
        return readdirSync(join(h, root), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(h, root, e.name));
      } catch {
        return [];
      }
    });
    const pids = new Set<number>();
    try {
      for (let i = 0; i < 100; i++) {
        const app = `ct-cycle-${i}`;
        // A worker (no URIs): RUNNING once launched, so the cycle is the container's own cost.
        await s.startOn(agent, 'serves-http-v2', app, { uris: [], start_command: 'exec sleep 600' });
        const up = await agent.waitForLog((l) => l.event === 'instance.running' && l.app_id === app, 30_000);
        const handle = JSON.parse(readFileSync(join(agent.baseDir, 'db', 'supervise', String(up.instance_id), 'handle.json'), 'utf8')) as { supervisorPid: number; initPid: number };
        pids.add(handle.supervisorPid).add(handle.initPid);
        s.bus.publish('dea.stop', { droplet: app });
        await agent.waitForLog((l) => l.event === 'instance.stopped' && l.app_id === app, 30_000);
      }
      await waitFor(() => {
        expect(groups()).toEqual([]);
        expect(readdirSync(join(agent.baseDir, 'db', 'uids'))).toEqual([]);
        expect(readdirSync(join(agent.baseDir, 'db', 'supervise'))).toEqual([]);
        expect(readdirSync(join(agent.baseDir, 'instances'))).toEqual([]);
      }, 30_000);
      expect(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(join(agent.baseDir, 'instances')))).toEqual([]);
      // Every instance's supervisor and init are gone (with the init of a PID namespace go
      // all its processes). Uids alone do not tell: other agents' pools start at the same uid.
      const left = [...pids].filter((pid) => {
        try {
          const status = readFileSync(`/proc/${pid}/status`, 'utf8');
          return !/^State:\s+Z/m.test(status) && /^Name:\s+dea-container$/m.test(status);
        } catch {
          return false;
        }
      });
      expect(left).toEqual([]);
    } finally {
      expect(await agent.stop()).toBe(0);
      await sweepCgroupRoot(root);
    }
  }, 300_000);
});

describe('disk_limit: loop', () => {
  it('gives the app a filesystem of its quota: a write past it fails with ENOSPC, no kill', async () => {
    const agent = await s.startAgent({
      config: { backend: { kind: 'container', container: { cgroup_root: CGROUP_ROOT, disk_limit: 'loop' } }, monitor: { interval_ms: 250 } },
    });
    const running = s.bus.record('dea.heartbeat');
    await running.ready();
    // A worker (no URIs: healthy at once) that writes 64 MB into a 32 MB quota.
    await s.startOn(agent, 'serves-http-v2', 'ct-loop', {
      uris: [],
      limits: { mem: 128, disk: 32, fds: 1024 },
      start_command: 'dd if=/dev/zero of=big bs=1M count=64 2>&1; echo "dd-exit=$?"; exec sleep 600',
    });
    const [found] = await waitForFind(agent, 'ct-loop');
    const log = join(agent.baseDir, 'instances', found.instance as string, 'logs', 'stdout.log');
    await waitFor(() => expect(readFileSync(log, 'utf8')).toMatch(/dd-exit=1/), 30_000);
    expect(readFileSync(log, 'utf8')).toMatch(/No space left on device/);
    // Still running: the kernel said no, nobody killed it.
    const [again] = await s.find({ droplet: 'ct-loop' }, agent);
    expect(again.state).toBe('RUNNING');
    running.stop();
    await agent.stop();
    // The stop unmounted the loop filesystem and deleted its image.
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(agent.baseDir);
    expect(readdirSync(join(agent.baseDir, 'layers', '.disks')).filter((f) => f.endsWith('.img'))).toEqual([]);
  }, 90_000);
});

async function waitForFind(agent: Parameters<AgentSuite['find']>[1], droplet: string): Promise<any[]> {
  let found: any[] = [];
  await waitFor(async () => {
    found = await s.find({ droplet }, agent);
    expect(found.length).toBe(1);
  }, 30_000);
  return found;
}

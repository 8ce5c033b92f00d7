import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentLogLine } from '../support/agent-process.js';
import { agentSuite, type AgentSuite } from '../support/agent-suite.js';
import { eventually } from '../support/eventually.js';

/**
 * This suite checks the process backend's own semantics (host pids, the shared app user,
 * the monitor's quota messages), so it pins that backend; `auto` picks the container
 * backend here, whose counterparts live in test/integration/container/.
 */
const PROCESS_BACKEND = { backend: { kind: 'process' } };

let s: AgentSuite;

beforeAll(async () => {
  s = await agentSuite({ ...PROCESS_BACKEND, crash_lifetime_secs: 600 });
});
afterAll(async () => s?.close());

/** The suite agent's `instance.stop_grace_secs` (startAgent's default), in ms. */
const GRACE_MS = 2_000;

/** True while `pid` runs; a zombie (dead, not yet reaped) counts as gone. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

/** When the agent wrote a log line (pino's `time`, ISO or epoch ms). */
const loggedAt = (line: AgentLogLine): number => (typeof line.time === 'number' ? line.time : Date.parse(String(line.time)));

/**
 * Watches `pids` until all are gone, and returns for each the last moment it was seen
 * alive (the clock is read before each look, so the process lived at least that long).
 */
async function watchUntilGone(pids: number[], timeoutMs: number): Promise<Map<number, number>> {
  const lastAlive = new Map<number, number>();
  await eventually(
    () => {
      const at = Date.now();
      let left = 0;
      for (const pid of pids) {
        if (!alive(pid)) continue;
        lastAlive.set(pid, at);
        left++;
      }
      return left === 0;
    },
    timeoutMs,
    `processes ${pids.join(', ')} gone`,
  );
  return lastAlive;
}

describe('instances that end by themselves', () => {
  it('an app that crashes on start is CRASHED with its exit status, and its stderr is kept', async () => {
    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    await s.start('crash-on-start', 'crasher');
    const ex = await exits.waitFor((m) => m.data.droplet === 'crasher', 15_000);
    expect(ex.data).toMatchObject({ reason: 'CRASHED', exit_status: 3, exit_description: 'app instance exited', index: 0, version: 'v1' });
    expect(Number.isInteger(ex.data.crash_timestamp)).toBe(true);
    const stderr = await eventually(() => {
      try {
        return readFileSync(join(s.agent.baseDir, 'crashes', ex.data.instance, 'logs', 'stderr.log'), 'utf8');
      } catch {
        return false;
      }
    });
    expect(stderr).toContain('crashing');
    // The crash directory is kept as the crash's last step; a round trip after it brings in
    // anything else the agent published for the crash by then.
    await s.roundTrip();
    expect(exits.filter((m) => m.data.droplet === 'crasher')).toEqual([ex]);
  });

  it('an app that exits while RUNNING is unregistered and reported CRASHED', async () => {
    const reg = s.bus.record('router.register');
    const unreg = s.bus.record('router.unregister');
    const exits = s.bus.record('droplet.exited');
    await Promise.all([reg.ready(), unreg.ready(), exits.ready()]);
    // It listens, then exits 3 s later: time enough, on a busy machine too, for the health
    // check to see it listening and the agent to register it before it goes.
    await s.start('exits-after-delay', 'quitter', { env: ['EXIT_AFTER_MS=3000'] });
    const r = await reg.waitFor((m) => m.data.app === 'quitter', 15_000);
    const ex = await exits.waitFor((m) => m.data.droplet === 'quitter', 15_000);
    expect(ex.data).toMatchObject({ reason: 'CRASHED', exit_status: 7, exit_description: 'app instance exited' });
    const u = await unreg.waitFor((m) => m.data.app === 'quitter');
    expect(u.data.port).toBe(r.data.port);
    const [found] = await s.bus.request('dea.find.droplet', { droplet: 'quitter' }, { expect: 1 });
    expect(found.state).toBe('CRASHED');
  });

  it('an app that never listens fails its health check with dea_ng description', async () => {
    const exits = s.bus.record('droplet.exited');
    await exits.ready();
    await s.start('never-listens', 'deaf', { health_check_timeout: 1 });
    const ex = await exits.waitFor((m) => m.data.droplet === 'deaf', 15_000);
    expect(ex.data).toMatchObject({ reason: 'CRASHED', exit_description: 'failed to accept connections within health check timeout' });
  });
});

/** The spawn helpers running under `root` (the agent's process tree). */
function spawnHelpersUnder(root: number): number[] {
  const parentOf = (pid: number): number => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return 0;
    }
  };
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    let comm = '';
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== 'dea-spawner') continue;
    for (let up = parentOf(pid), hops = 0; up > 1 && hops < 8; up = parentOf(up), hops++) {
      if (up === root) {
        found.push(pid);
        break;
      }
    }
  }
  return found;
}

describe('the spawn helper', () => {
  it('dies under a running instance: its crash is still reported, and the next start gets a new helper', async () => {
    const reg = s.bus.record('router.register');
    const exits = s.bus.record('droplet.exited');
    await Promise.all([reg.ready(), exits.ready()]);
    const agentPid = s.agent.child.pid as number;
    // The agent has its helper from its overlay probe on: it made the instances' views.
    const [helper] = spawnHelpersUnder(agentPid);
    expect(helper).toBeDefined();
    // It listens, then exits 8 s later: the helper that forked its supervisor dies first.
    await s.start('exits-after-delay', 'orphaned', { env: ['EXIT_AFTER_MS=8000'] });
    await reg.waitFor((m) => m.data.app === 'orphaned', 15_000);
    process.kill(helper!, 'SIGKILL');
    await s.agent.waitForLog((l) => l.event === 'spawner.helper.exited');
    const ex = await exits.waitFor((m) => m.data.droplet === 'orphaned', 20_000);
    expect(ex.data).toMatchObject({ reason: 'CRASHED', exit_status: 7, exit_description: 'app instance exited' });
    await s.start('serves-http', 'after-helper');
    await reg.waitFor((m) => m.data.app === 'after-helper', 15_000);
    const now = spawnHelpersUnder(agentPid);
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(helper);
    s.bus.publish('dea.stop', { droplet: 'after-helper' });
  }, 60_000);
});

describe('health checks', () => {
  it('waits for a slow app to listen', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.start('slow-to-listen', 'slowpoke', { env: ['LISTEN_DELAY_MS=1200'] });
    const r = await reg.waitFor((m) => m.data.app === 'slowpoke', 15_000);
    expect((await fetch(`http://127.0.0.1:${r.data.port}/`)).status).toBe(200);
  });

  it('a worker without URIs is RUNNING at once and registered with no URIs', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.start('worker-no-uris', 'worker', { uris: [] });
    const r = await reg.waitFor((m) => m.data.app === 'worker', 15_000);
    expect(r.data.uris).toEqual([]);
  });

  it('honours the state_file of droplet.yaml', async () => {
    const hb = s.bus.record('dea.heartbeat');
    await hb.ready();
    await s.start('state-file', 'stateful');
    // Heartbeats come every 10 s here: three chances, on a busy machine too.
    const m = await hb.waitFor((x) => x.data.droplets.some((d: { droplet: string; state: string }) => d.droplet === 'stateful' && d.state === 'RUNNING'), 35_000);
    expect(m.data.dea).toBe(s.agent.id);
  }, 45_000);
});

describe('the v2 droplet layout and the environment', () => {
  it('runs the staged start command in app/ after .profile.d, as the unprivileged user, with literal values', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    const tricky = '$HOME;echo pwned `id` "quoted"';
    await s.start('serves-http-v2', 'v2app', { env: ['FOO=bar', `TRICKY=${tricky}`, 'CF_INSTANCE_IP=10.9.9.9'], limits: { mem: 64, disk: 128, fds: 300 } });
    const r = await reg.waitFor((m) => m.data.app === 'v2app', 15_000);
    const env = (await (await fetch(`http://127.0.0.1:${r.data.port}/env`)).json()) as Record<string, string>;
    const root = (await (await fetch(`http://127.0.0.1:${r.data.port}/`)).json()) as { uid: number; cwd: string };
    expect(env.TRICKY).toBe(tricky);
    expect(env.FOO).toBe('bar');
    expect(env.PROFILE_D_RAN).toBe('yes');
    expect(env.MEMORY_LIMIT).toBe('64m');
    expect(env.CF_INSTANCE_ADDR).toBe(`127.0.0.1:${r.data.port}`);
    expect(env.DEA_START_COMMAND).toBeUndefined();
    const va = JSON.parse(env.VCAP_APPLICATION ?? '{}') as Record<string, unknown>;
    expect(va).toMatchObject({ application_id: 'v2app', instance_index: 0, port: r.data.port, name: 'web', limits: { mem: 64 } });
    expect(JSON.parse(env.VCAP_SERVICES ?? 'null')).toEqual({});
    expect(root.uid).toBe(65534);
    expect(root.cwd.endsWith('/app')).toBe(true);
    // The message's variables come last and win, as user variables do in dea_ng.
    expect(env.CF_INSTANCE_IP).toBe('10.9.9.9');
  });
});

describe('stopping', () => {
  it('kills an app that ignores TERM, and the child it forked, only once the grace period is over', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.start('ignores-sigterm', 'stubborn', { env: ['CHILDREN=1'] });
    const r = await reg.waitFor((m) => m.data.app === 'stubborn', 15_000);
    const { pid, children } = (await (await fetch(`http://127.0.0.1:${r.data.port}/`)).json()) as { pid: number; children: number[] };
    expect(children).toHaveLength(1);
    const [child] = children as [number];
    expect([alive(pid), alive(child)]).toEqual([true, true]);

    s.bus.publish('dea.stop', { droplet: 'stubborn' });
    // The agent sends TERM right after it enters STOPPING, and KILL GRACE_MS after that.
    const stopping = await s.agent.waitForLog((l) => l.event === 'instance.stopping' && l.app_id === 'stubborn', 10_000);
    const lastAlive = await watchUntilGone([pid, child], GRACE_MS + 15_000);
    // Both ignored TERM and lived through most of the grace period: a stop that killed at
    // once, or sooner than the grace, fails here.
    expect(lastAlive.get(pid)! - loggedAt(stopping)).toBeGreaterThanOrEqual(GRACE_MS * 0.75);
    expect(lastAlive.get(child)! - loggedAt(stopping)).toBeGreaterThanOrEqual(GRACE_MS * 0.75);
    // ... and the KILL went to the whole group: the child the app forked is gone with it.
    await s.agent.waitForLog((l) => l.event === 'instance.stopped' && l.app_id === 'stubborn', 15_000);
  });

  it('a stop reaches every process of the instance', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.start('forks-children', 'forker');
    const r = await reg.waitFor((m) => m.data.app === 'forker', 15_000);
    const body = (await (await fetch(`http://127.0.0.1:${r.data.port}/`)).json()) as { pid: number; children: number[] };
    expect(body.children.length).toBe(2);
    s.bus.publish('dea.stop', { droplet: 'forker' });
    await eventually(() => [body.pid, ...body.children].every((p) => !alive(p)), 10_000, 'all processes gone');
  });

  it('only stops what the filters name', async () => {
    const reg = s.bus.record('router.register');
    await reg.ready();
    await s.start('serves-http', 'multi', { index: 0 });
    await s.start('serves-http', 'multi', { index: 1 });
    await reg.waitForCount(2, (m) => m.data.app === 'multi', 15_000);
    s.bus.publish('dea.stop', { droplet: 'multi', indices: [1] });
    await s.agent.waitForLog((l) => l.event === 'instance.stopped' && l.app_id === 'multi', 15_000);
    // Every reply the agent has for the app, not just those that came within some window.
    const left = await s.find({ droplet: 'multi' });
    expect(left.map((f: { index: number; state: string }) => [f.index, f.state])).toEqual([[0, 'RUNNING']]);
  });
});

describe('dea.update', () => {
  it('registers added URIs, unregisters removed ones, and re-keys on a new version', async () => {
    const reg = s.bus.record('router.register');
    const unreg = s.bus.record('router.unregister');
    await Promise.all([reg.ready(), unreg.ready()]);
    await s.start('serves-http', 'upd', { uris: ['a.example.com', 'b.example.com'] });
    await reg.waitFor((m) => m.data.app === 'upd', 15_000);
    const [before] = await s.bus.request('dea.find.droplet', { droplet: 'upd' }, { expect: 1 });
    reg.clear();
    s.bus.publish('dea.update', { droplet: 'upd', uris: ['b.example.com', 'c.example.com'], version: 'v2' });
    const added = await reg.waitFor((m) => m.data.app === 'upd');
    const removed = await unreg.waitFor((m) => m.data.app === 'upd');
    expect(added.data.uris).toEqual(['c.example.com']);
    expect(removed.data.uris).toEqual(['a.example.com']);
    const [after] = await s.bus.request('dea.find.droplet', { droplet: 'upd' }, { expect: 1 });
    expect(after.version).toBe('v2');
    expect(after.instance).not.toBe(before.instance);
  });
});

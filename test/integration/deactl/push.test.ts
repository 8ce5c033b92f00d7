/**
 * deactl push, ls, stop and scale against three real agents (zones a, a, b) on a real
 * nats-server: placement by stack, capacity, zone spread and fewest instances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestClient } from '../../support/bus-client.js';
import { eventually } from '../../support/eventually.js';
import { join } from 'node:path';
import { FIXTURES, runDeactl, startFleet, type Fleet } from './fleet.js';

let fleet: Fleet;
const APP = `${FIXTURES}sample-app`;

beforeAll(async () => {
  fleet = await startFleet([{ zone: 'a' }, { zone: 'a' }, { zone: 'b', stacks: ['cflinuxfs4', 'special'] }]);
}, 90_000);
afterAll(async () => fleet?.close(), 90_000);

const zoneOf = (agentId: string) => (agentId === fleet.agents[2]!.id ? 'b' : 'a');

describe('deactl push', () => {
  it('spreads instances over zones, then over agents with the fewest', async () => {
    const r = await fleet.deactl(['push', APP, '--name', 'spread', '--instances', '3', '--uri', 'spread.test']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('RUNNING');
    expect(r.stdout).toContain('http://spread.test/');
    const ls = await fleet.json<any[]>(['ls', 'spread']);
    expect(ls.map((i) => i.state)).toEqual(['RUNNING', 'RUNNING', 'RUNNING']);
    // Zone spread puts one in b and one in a; the third goes to the agent of a with none.
    expect(new Set(ls.map((i) => i.dea)).size).toBe(3);
    expect(ls.filter((i) => zoneOf(i.dea) === 'b')).toHaveLength(1);
    expect(ls.every((i) => i.stats.mem_quota === 128 * 1024 * 1024)).toBe(true);
  }, 120_000);

  it('places only on agents with the stack, and --json says where', async () => {
    const res = await fleet.json<any>(['push', APP, '--name', 'stacked', '--instances', '2', '--stack', 'special']);
    expect(res.instances.map((t: any) => t.state)).toEqual(['RUNNING', 'RUNNING']);
    expect(res.instances.every((t: any) => t.agent === fleet.agents[2]!.id)).toBe(true);
  }, 120_000);

  it('refuses, starting nothing, when the instances do not all fit', async () => {
    const r = await fleet.deactl(['push', APP, '--name', 'huge', '--instances', '2', '--mem', '600']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^deactl: not enough capacity: no agent has room for an instance of 600 MB memory .*lower --mem/);
    const ls = await fleet.deactl(['ls', 'huge']);
    expect(ls.code).toBe(1);
    expect(ls.stderr).toContain('no agent runs an app named "huge"');
  }, 60_000);

  it('refuses an unknown stack, naming the ones there are', async () => {
    const r = await fleet.deactl(['push', APP, '--name', 'nostack', '--stack', 'win2016']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no agent offers stack "win2016" (they offer: cflinuxfs4, special)');
  }, 60_000);

  it('reports a crash with its exit_description and exits 1', async () => {
    const r = await fleet.deactl(['push', `${FIXTURES}crash-on-start`, '--name', 'crasher']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/instance 0 .*CRASHED/);
    expect(r.stderr).toMatch(/^deactl: 1 of 1 instance\(s\) did not start .*CRASHED.*deactl logs crasher --index 0/);
  }, 120_000);
});

describe('deactl ls, stop, scale', () => {
  it('ls shows every app with its stats', async () => {
    const r = await fleet.deactl(['ls']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^APP\s+INDEX\s+STATE\s+AGENT\s+ADDRESS\s+UPTIME\s+CPU\s+MEM\s+DISK$/);
    expect(r.stdout).toMatch(/spread\s+0\s+RUNNING\s+\S+\s+127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/stacked\s+1\s+RUNNING/);
  }, 60_000);

  it('scale starts the missing indices and stops the extra ones', async () => {
    const up = await fleet.deactl(['scale', 'stacked', '3']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const after = await fleet.json<any[]>(['ls', 'stacked']);
    expect(after.filter((i) => i.state === 'RUNNING').map((i) => i.index)).toEqual([0, 1, 2]);
    const down = await fleet.deactl(['scale', 'stacked', '1']);
    expect(down.code).toBe(0);
    const left = await fleet.json<any[]>(['ls', 'stacked']);
    expect(left.map((i) => i.index)).toEqual([0]);
  }, 120_000);

  it('scale up needs the droplet deactl kept when it pushed the app', async () => {
    const elsewhere = await runDeactl(['scale', 'stacked', '2'], { ...fleet.env, DEACTL_HOME: join(fleet.home, 'other') });
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toBe("deactl: deactl has no copy of stacked's droplet (it was pushed from elsewhere): push it again with deactl push DROPLET --name stacked\n");
  }, 60_000);

  it('stop --index stops one instance, stop stops the rest', async () => {
    const one = await fleet.deactl(['stop', 'spread', '--index', '1']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('stopped 1 instance(s) of spread (index 1)');
    expect((await fleet.json<any[]>(['ls', 'spread'])).map((i) => i.index)).toEqual([0, 2]);
    const all = await fleet.deactl(['stop', 'spread']);
    expect(all.code).toBe(0);
    await eventually(async () => (await fleet.deactl(['ls', 'spread'])).code === 1, 15_000, 'spread gone');
  }, 60_000);

  it('stop of an unknown app or index says so and exits 1', async () => {
    const r = await fleet.deactl(['stop', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('deactl: no agent runs an app named "nope": see deactl ls for the apps there are\n');
    const i = await fleet.deactl(['stop', 'stacked', '--index', '7']);
    expect(i.code).toBe(1);
    expect(i.stderr).toContain('has no instance 7');
  }, 60_000);
});

describe('deactl push of an app that runs', () => {
  it('replaces it one index at a time: the route always keeps a backend', async () => {
    const bus = await connectTestClient(fleet.nats.url);
    try {
      const routes = bus.record('router.*');
      await routes.ready();
      const first = await fleet.json<any>(['push', APP, '--name', 'roll', '--instances', '2', '--uri', 'roll.test']);
      const second = await fleet.json<any>(['push', APP, '--name', 'roll', '--instances', '2', '--uri', 'roll.test', '--env', 'V=2']);
      expect(second.version).not.toBe(first.version);
      const ls = await eventually(async () => {
        const l = await fleet.json<any[]>(['ls', 'roll']);
        return l.length === 2 && l;
      }, 20_000, 'old instances gone');
      expect(ls.map((i) => [i.index, i.version, i.state])).toEqual([
        [0, second.version, 'RUNNING'],
        [1, second.version, 'RUNNING'],
      ]);
      // Replay the route table: from the first registration on, roll.test never had no backend.
      const backends = new Set<string>();
      let emptied = false;
      for (const m of routes.all().filter((r) => r.data.uris?.includes('roll.test'))) {
        const key = `${m.data.host}:${m.data.port}`;
        if (m.subject === 'router.register') backends.add(key);
        else {
          backends.delete(key);
          if (backends.size === 0) emptied = true;
        }
      }
      expect(emptied).toBe(false);
      expect(backends.size).toBe(2);
    } finally {
      await bus.close();
    }
  }, 180_000);
});

/**
 * deactl's bad days, against real agents on a real nats-server: usage mistakes (exit 2),
 * NATS down, no agent, a broken droplet, an agent killed mid-push (exit 1, one line that
 * says what to do); and status and watch.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '../../support/agent-process.js';
import { connectTestClient } from '../../support/bus-client.js';
import { cleanUp } from '../../support/cleanup.js';
import { eventually } from '../../support/eventually.js';
import { startNatsServer } from '../../support/nats-server.js';
import { getFreePort } from '../../support/ports.js';
import { DEACTL_BIN, FIXTURES, runDeactl, startFleet, type Fleet } from './fleet.js';

let fleet: Fleet;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'deactl-err-'));
  fleet = await startFleet([{ zone: 'x' }, { zone: 'y', memoryMb: 1024 }]);
}, 90_000);
afterAll(async () => cleanUp(() => fleet?.close(), () => rm(work, { recursive: true, force: true })), 90_000);

describe('usage and environment errors', () => {
  it('exits 2 with one line for a bad flag, a missing argument or an unknown verb', async () => {
    for (const args of [['push', 'x'], ['ls', '--bogus'], ['frobnicate'], ['scale', 'app', 'many'], ['push', 'x', '--name', 'a', '--env', 'no-equals']]) {
      const r = await fleet.deactl(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^deactl: .*; try deactl --help\n$/);
    }
  }, 60_000);

  it('says how to fix an unreachable NATS, and exits 1', async () => {
    const port = await getFreePort();
    const r = await fleet.deactl(['ls', '--nats', `nats://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`deactl: cannot reach NATS at nats://127.0.0.1:${port} (CONNECTION_REFUSED): start nats-server (npm run dev starts one) or pass --nats URL / set DEA_NATS\n`);
  }, 30_000);

  it('says so when no agent answers', async () => {
    const empty = await startNatsServer();
    try {
      for (const verb of [['status'], ['ls'], ['push', `${FIXTURES}sample-app`, '--name', 'a']]) {
        const r = await runDeactl(verb, { ...fleet.env, DEA_NATS: empty.url });
        expect(r.code, verb[0]).toBe(1);
        expect(r.stderr, verb[0]).toMatch(/^deactl: no agent answered on nats:\/\/127\.0\.0\.1:\d+: start one/);
      }
    } finally {
      await empty.stop();
    }
  }, 60_000);

  it('refuses a broken droplet before any agent sees it', async () => {
    const notGzip = join(work, 'broken.tgz');
    writeFileSync(notGzip, 'this is not a tarball');
    const r1 = await fleet.deactl(['push', notGzip, '--name', 'broken']);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/^deactl: .*broken\.tgz is not a gzipped tarball .*: pass a \.tgz/);
    const noStart = join(work, 'no-start');
    mkdirSync(noStart);
    writeFileSync(join(noStart, 'index.html'), 'hi');
    const r2 = await fleet.deactl(['push', noStart, '--name', 'broken']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('has no startup script or staging_info.yml');
    const r3 = await fleet.deactl(['push', join(work, 'missing'), '--name', 'broken']);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toContain('no such file or directory');
    expect((await fleet.deactl(['ls', 'broken'])).code).toBe(1);
  }, 60_000);
});

describe('status and watch', () => {
  it('status lists each agent with zone, capacity, backend and varz', async () => {
    // --json works before the verb as well as after it.
    const r = await fleet.deactl(['--json', 'status']);
    expect(r.code).toBe(0);
    const all = JSON.parse(r.stdout) as any[];
    expect(all.map((a) => a.id).sort()).toEqual(fleet.agents.map((a) => a.id).sort());
    const y = all.find((a) => a.zone === 'y');
    expect(y).toMatchObject({ freeMemoryMb: 1024, stacks: ['cflinuxfs4'], placing: true, varzError: null });
    expect(y.varz).toMatchObject({ backend: 'process', reservedMemoryMb: 0, instances: 0 });
    const text = await fleet.deactl(['status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^AGENT\s+HOST\s+ZONE\s+STACKS/);
    expect(text.stdout).toMatch(/127\.0\.0\.1:\d+\s+y\s+cflinuxfs4\s+1024M\/0M\s+\d+M\/0M\s+0\s+process/);
    expect(text.stdout).toContain('2 agent(s) on nats://127.0.0.1:');
  }, 30_000);

  it('watch prints bus traffic with credentials masked', async () => {
    const child = spawn(DEACTL_BIN, ['watch', 'test.>'], { env: fleet.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const bus = await connectTestClient(fleet.nats.url);
    try {
      await eventually(() => out.includes('# watching test.>'), 20_000, 'watch ready');
      bus.publish('test.secret', { services: [{ name: 'db', credentials: { password: 'hunter2' } }], url: 'nats://u:hunter2@h:1', password: 'hunter2' });
      await bus.flush();
      await eventually(() => out.includes('test.secret'), 10_000, 'message shown');
      expect(out).not.toContain('hunter2');
      expect(out).toContain('"credentials":"***"');
      expect(out).toContain('nats://u:***@h:1');
    } finally {
      await bus.close();
      child.kill('SIGINT');
      await new Promise((r) => child.once('close', r));
    }
    expect(child.exitCode).toBe(0);
  }, 40_000);
});

describe('an agent that dies mid-push', () => {
  it('is reported, the instance LOST, exit 1', async () => {
    const slow = join(work, 'never-ready');
    mkdirSync(slow);
    // Runs but never listens: the health check keeps the instance STARTING.
    writeFileSync(join(slow, 'startup'), '#!/bin/sh\nexec sleep 300\n');
    chmodSync(join(slow, 'startup'), 0o755);
    const victim = await startAgent({ natsUrl: fleet.nats.url, config: { placement_properties: { zone: 'z' }, backend: { kind: 'process' }, resources: { memory_mb: 4096, disk_mb: 4096 }, default_health_check_timeout: 120 } });
    let successor: Awaited<ReturnType<typeof startAgent>> | undefined;
    try {
      const child = spawn(DEACTL_BIN, ['push', slow, '--name', 'doomed', '--uri', 'doomed.test', '--mem', '900'], { env: fleet.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const closed = new Promise<number | null>((r) => child.once('close', r));
      // 900 MB fits only the victim (4096) and the 1024 agent; zone z has none of it yet either way.
      await eventually(() => /instance 0 → agent (\S+)/.exec(out)?.[1] ?? false, 30_000, 'instance placed');
      const target = /instance 0 → agent (\S+)/.exec(out)![1]!;
      const owner = [victim, ...fleet.agents].find((a) => a.id.startsWith(target))!;
      await eventually(() => out.includes('STARTING'), 30_000, 'instance STARTING');
      owner.child.kill('SIGKILL');
      await owner.exited;
      expect(await closed).toBe(1);
      expect(out).toMatch(/instance 0 on \S+: LOST: agent \S+ stopped answering/);
      expect(err).toMatch(/^deactl: 1 of 1 instance\(s\) did not start \(first: instance 0 LOST/);
      // The instance outlived its agent: the next agent on that base_dir adopts it, and stopping it ends the app.
      successor = await startAgent({ natsUrl: fleet.nats.url, baseDir: owner.baseDir, config: { backend: { kind: 'process' } } });
    } finally {
      await cleanUp(() => successor?.dispose(), () => victim.dispose());
    }
  }, 120_000);
});

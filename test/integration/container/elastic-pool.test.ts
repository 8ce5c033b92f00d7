/**
 * Elastic memory on this host's real cgroups, below the agent: the root of the instances
 * becomes a pool whose OOM killer is off, an instance borrowing beyond its guarantee
 * fills it (its allocation waits, the probe says "short") until the agent kills it,
 * an instance at its own hard limit is OOM-killed by the kernel as before, and `hard`
 * undoes the pool. Also the agent's own CPU group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { detectCgroupHost } from '../../../src/backends/container/cgroup-host.js';
import { InstanceCgroups, prepareCgroupRoot } from '../../../src/backends/container/cgroups.js';
import { elasticLimits } from '../../../src/backends/container/elastic-pool.js';
import { applyMemoryPolicy, openPoolProbe } from '../../../src/backends/container/memory-pool.js';
import { agentCgroupName, joinAgentCgroup } from '../../../src/backends/container/agent-cgroup.js';
import { systemClock } from '../../../src/platform/clock.js';
import { sweepCgroupRoot, waitFor } from './harness.js';

const MIB = 1024 * 1024;
const ROOT = `dea-elastic-${randomBytes(4).toString('hex')}`;
const host = detectCgroupHost();
const memoryRoot = join(host.v1.get('memory') ?? host.unified!, ROOT);
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  await sweepCgroupRoot(ROOT);
  await sweepCgroupRoot(agentCgroupName(ROOT));
});

/** A python process in the instance's groups that allocates `mb` MB, then says so and waits. */
function hog(cg: InstanceCgroups, mb: number): { child: ChildProcess; exit: Promise<number | null>; holding: Promise<void> } {
  const joins = cg.procsFiles().map((f) => `echo $$ > ${f}`).join('; ');
  const child = spawn('sh', ['-c', `${joins}; exec python3 -c 'import sys,time; x=bytearray(${mb}*1024*1024); print("holding", flush=True); time.sleep(600)'`], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : -1))));
  const holding = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('holding') && resolve()));
  return { child, exit, holding };
}

const underOom = () => /under_oom 1/.test(readFileSync(join(memoryRoot, 'memory.oom_control'), 'utf8'));

// This machine is cgroup v1 (as CI's); on v2 the pool's signal is memory.high, not under_oom.
describe('an elastic pool (cgroup v1)', () => {
  it('lets an instance borrow, waits instead of killing when full, and frees on the agent\'s kill', async () => {
    expect(host.v1.has('memory'), 'needs the cgroup v1 memory controller').toBe(true);
    await prepareCgroupRoot(host, ROOT);
    const pool = 120 * MIB;
    applyMemoryPolicy(host, ROOT, pool);
    const probe = openPoolProbe(host, ROOT, pool)!;
    const limits = (quotaMb: number) => ({ ...elasticLimits(quotaMb, 2.5, pool), cpuShares: 8, pidsMax: 64 });
    const borrower = await InstanceCgroups.create(host, ROOT, randomBytes(16).toString('hex'), limits(48), systemClock);
    const modest = await InstanceCgroups.create(host, ROOT, randomBytes(16).toString('hex'), limits(48), systemClock);
    try {
      // 80 MB against a 48 MB guarantee: borrowed, and it runs while the pool has room.
      const b = hog(borrower, 80);
      await b.holding;
      expect(probe.short()).toBe(false);
      // 45 MB, within its guarantee: the pool (120 MB) fills; the allocation waits.
      const m = hog(modest, 45);
      await waitFor(() => expect(probe.short()).toBe(true), 15_000);
      expect(underOom()).toBe(true);
      expect(m.child.exitCode).toBeNull();
      // The agent's kill of the borrower relieves the pool: the modest one completes.
      await borrower.killAll();
      expect(await b.exit).toBe(137);
      await m.holding;
      expect(probe.short()).toBe(false);
      await modest.killAll();
      await m.exit;
    } finally {
      probe.close();
      await borrower.killAll();
      await modest.killAll();
      await borrower.remove();
      await modest.remove();
    }
  }, 60_000);

  it('OOM-kills an instance at its own hard limit, as under hard limits', async () => {
    await prepareCgroupRoot(host, ROOT);
    applyMemoryPolicy(host, ROOT, 512 * MIB);
    const cg = await InstanceCgroups.create(host, ROOT, randomBytes(16).toString('hex'), { ...elasticLimits(16, 2, 512 * MIB), cpuShares: 8, pidsMax: 64 }, systemClock);
    try {
      const h = hog(cg, 64); // over its 32 MB hard limit, far within the pool
      expect(await h.exit).toBe(137);
      expect(cg.oomKills()).toBe(1);
      expect(underOom()).toBe(false);
    } finally {
      await cg.killAll();
      await cg.remove();
    }
  }, 60_000);

  it('hard undoes the pool: no limit, the OOM killer back on', async () => {
    await prepareCgroupRoot(host, ROOT);
    applyMemoryPolicy(host, ROOT, 64 * MIB);
    expect(readFileSync(join(memoryRoot, 'memory.oom_control'), 'utf8')).toMatch(/oom_kill_disable 1/);
    applyMemoryPolicy(host, ROOT, null);
    expect(readFileSync(join(memoryRoot, 'memory.oom_control'), 'utf8')).toMatch(/oom_kill_disable 0/);
    expect(Number(readFileSync(join(memoryRoot, 'memory.limit_in_bytes'), 'utf8'))).toBeGreaterThan(2 ** 60);
  });
});

describe('the agent\'s own CPU group', () => {
  it('holds the agent with the reserved shares beside the instances, and is gone after leave', () => {
    const sleeper = spawn('sleep', ['60']);
    children.push(sleeper);
    const group = joinAgentCgroup(host, ROOT, 1024, sleeper.pid!);
    expect(group).not.toBeNull();
    expect(group!.dir.endsWith(`${ROOT}-agent`)).toBe(true);
    expect(readFileSync(join(group!.dir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(sleeper.pid));
    const sharesFile = host.v1.has('cpu') ? 'cpu.shares' : 'cpu.weight';
    expect(readFileSync(join(group!.dir, sharesFile), 'utf8').trim()).toBe(host.v1.has('cpu') ? '1024' : '100');
    group!.leave();
    expect(existsSync(group!.dir)).toBe(false);
  });
});

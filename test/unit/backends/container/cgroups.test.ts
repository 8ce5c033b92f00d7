/**
 * InstanceCgroups against directories laid out like cgroupfs (a v2-only host, a v1 host),
 * so the paths of a kind this machine does not have are exercised too. What the kernel
 * does with the files is the integration tests' business.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cgroupHostFrom, containerCapable } from '../../../../src/backends/container/cgroup-host.js';
import { InstanceCgroups, prepareCgroupRoot } from '../../../../src/backends/container/cgroups.js';
import { parseCgroupMounts } from '../../../../src/monitor/cgroup-reader.js';
import { systemClock } from '../../../../src/platform/clock.js';

const ID = 'c'.repeat(32);
const limits = { memBytes: 64 * 1024 * 1024, cpuShares: 1024, pidsMax: 100 };
let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dea-cgroupfs-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A mountinfo line for a mount of `type` at `point` with super options `opts`. */
const line = (id: number, point: string, type: string, opts: string) => `${id} 1 0:${id} / ${point} rw,relatime shared:${id} - ${type} ${type} ${opts}`;

describe('a cgroup v2 host', () => {
  async function v2Host() {
    await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids\n');
    const mounts = parseCgroupMounts(line(30, root, 'cgroup2', 'rw,nsdelegate'));
    return cgroupHostFrom(mounts);
  }

  it('is capable, with memory, cpu and pids from the unified hierarchy', async () => {
    const host = await v2Host();
    expect(host.layout).toBe('v2');
    expect([...host.v2Controllers].sort()).toEqual(['cpu', 'cpuset', 'hugetlb', 'io', 'memory', 'pids']);
    expect(containerCapable(host)).toEqual({ ok: true });
  });

  it('hands memory, cpu and pids down to the root and writes memory.max, swap 0, weight and pids.max', async () => {
    const host = await v2Host();
    await prepareCgroupRoot(host, 'dea');
    expect(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu +memory +pids');
    expect(readFileSync(join(root, 'dea', 'cgroup.subtree_control'), 'utf8')).toBe('+cpu +memory +pids');
    // The kernel makes memory.swap.max when the group is made; a plain directory needs it laid out.
    await mkdir(join(root, 'dea', ID), { recursive: true });
    await writeFile(join(root, 'dea', ID, 'memory.swap.max'), 'max\n');
    const cg = await InstanceCgroups.create(host, 'dea', ID, limits, systemClock);
    const file = (f: string) => readFileSync(join(root, 'dea', ID, f), 'utf8');
    expect(file('memory.max')).toBe(String(64 * 1024 * 1024));
    expect(file('memory.swap.max')).toBe('0');
    expect(file('cpu.weight')).toBe('100');
    expect(file('pids.max')).toBe('100');
    expect(cg.procsFiles()).toEqual([join(root, 'dea', ID, 'cgroup.procs')]);
    expect(cg.readerDirs()).toEqual({ cpuacct: undefined, memory: undefined, unified: join(root, 'dea', ID) });
  });

  it('counts OOM kills from memory.events and lists processes from cgroup.procs', async () => {
    const host = await v2Host();
    const dir = join(root, 'dea', ID);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
    await writeFile(join(dir, 'cgroup.procs'), '41\n42\n');
    const cg = InstanceCgroups.locate(host, 'dea', ID, systemClock);
    expect(cg.oomKills()).toBe(1);
    expect(cg.pids()).toEqual([41, 42]);
  });
});

describe('a cgroup v1 host', () => {
  async function v1Host(withMemsw: boolean) {
    const lines: string[] = [];
    const controllers = ['memory', 'cpu,cpuacct', 'pids', 'devices', 'freezer'];
    controllers.forEach((c, i) => lines.push(line(40 + i, join(root, c), 'cgroup', `rw,${c}`)));
    for (const c of controllers) await mkdir(join(root, c));
    if (withMemsw) await writeFile(join(root, 'memory', 'memory.memsw.limit_in_bytes'), '');
    return cgroupHostFrom(parseCgroupMounts(lines.join('\n')));
  }

  it('makes one group per hierarchy (co-mounted cpu,cpuacct share one) and writes each controller its limits', async () => {
    const host = await v1Host(true);
    expect(host.layout).toBe('v1');
    expect(host.hasMemsw).toBe(true);
    const cg = await InstanceCgroups.create(host, 'dea', ID, { ...limits, cpuShares: 64 }, systemClock);
    const file = (h: string, f: string) => readFileSync(join(root, h, 'dea', ID, f), 'utf8');
    expect(file('memory', 'memory.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    expect(file('memory', 'memory.memsw.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
    expect(file('cpu,cpuacct', 'cpu.shares')).toBe('64');
    expect(file('pids', 'pids.max')).toBe('100');
    expect(file('devices', 'devices.deny')).toBe('a');
    expect(cg.procsFiles().sort()).toEqual(['memory', 'cpu,cpuacct', 'pids', 'devices', 'freezer'].map((h) => join(root, h, 'dea', ID, 'cgroup.procs')).sort());
    expect(cg.readerDirs()).toEqual({ cpuacct: join(root, 'cpu,cpuacct', 'dea', ID), memory: join(root, 'memory', 'dea', ID), unified: undefined });
  });

  it('is not capable without a pids controller, and says so', async () => {
    const host = cgroupHostFrom(parseCgroupMounts(line(50, join(root, 'memory'), 'cgroup', 'rw,memory')));
    expect(containerCapable(host)).toEqual({ ok: false, why: 'no cpu controller' });
  });

  it('fails the create when a limit cannot be written (the integration tests check that nothing stays)', async () => {
    const host = await v1Host(false);
    // A directory where pids.max should be: the write fails like a refused value would.
    await mkdir(join(root, 'pids', 'dea', ID, 'pids.max'), { recursive: true });
    await expect(InstanceCgroups.create(host, 'dea', ID, limits, systemClock)).rejects.toThrow(/EISDIR/);
    expect(existsSync(join(root, 'memory', 'dea', ID, 'memory.limit_in_bytes'))).toBe(true);
  });
});

/**
 * The monitor's readers on this host's real kernel: its cgroup mounts, real groups it
 * makes under them (as root), and the kernel constants. Unit tests of the same readers
 * on files the tests write are in test/unit/monitor.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CgroupReader, detectCgroups } from '../../../src/monitor/cgroup-reader.js';
import { kernelConstants } from '../../../src/monitor/kernel.js';
import { eventually } from '../../support/eventually.js';
import { cpuBurner, killGroups, startGroup, stop } from '../../unit/monitor/helpers.js';
import { isRoot, requireHost } from '../preconditions.js';

/** The cgroup mounts as /proc/self/mounts lists them: a second account beside mountinfo. */
function mountsListed(): { type: string; mountPoint: string; options: string[] }[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter(([, , type]) => type === 'cgroup' || type === 'cgroup2')
    .map(([, mountPoint, type, options]) => ({
      type: type!,
      mountPoint: mountPoint!.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))),
      options: options!.split(','),
    }));
}

describe('cgroup mounts of this host', () => {
  it('are detected as /proc/self/mounts lists them, whatever the layout', () => {
    const listed = mountsListed();
    const found = detectCgroups();
    const v2 = listed.find((m) => m.type === 'cgroup2')?.mountPoint ?? null;
    expect(found.v2).toBe(v2);
    for (const controller of ['cpu', 'cpuacct', 'memory', 'pids']) {
      const v1 = listed.find((m) => m.type === 'cgroup' && m.options.includes(controller))?.mountPoint;
      expect(found.v1.get(controller), controller).toBe(v1);
    }
    const hasV1 = found.v1.size > 0;
    expect(found.layout).toBe(hasV1 && v2 ? 'hybrid' : hasV1 ? 'v1' : v2 ? 'v2' : 'none');
  });
});

describe('kernel constants', () => {
  it('are the page size and USER_HZ that sysconf reports (getconf)', () => {
    const getconf = (name: string) => Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    expect(kernelConstants()).toEqual({ pageSize: getconf('PAGESIZE'), clkTck: getconf('CLK_TCK') });
  });
});

const mounts = detectCgroups();
const made: string[] = [];

/** A fresh group under a hierarchy's root, removed after the test. */
function makeGroup(mount: string): string {
  const dir = path.join(mount, `dea-test-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  made.push(dir);
  return dir;
}

afterEach(async () => {
  await killGroups(); // groups must be empty before rmdir
  for (const dir of made.splice(0).reverse()) {
    try {
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
});

/** Runs `cmd` inside the given groups: the shell joins them, then execs. */
function startIn(groups: readonly string[], cmd: string) {
  const join = groups.map((g) => `echo $$ > ${g}/cgroup.procs`).join('; ');
  return startGroup('sh', ['-c', `${join}; exec ${cmd}`]);
}

/** 300 ms of CPU and 40 MB touched, however long the machine takes to give them. */
const BURN_300MS_TOUCH_40MB = cpuBurner(300, 40);

describe('CgroupReader on real v1 groups', () => {
  const cpuacct = mounts.v1.get('cpuacct');
  const memory = mounts.v1.get('memory');
  beforeEach(() =>
    requireHost({
      'root (to make cgroups)': isRoot(),
      [`the v1 cpuacct and memory controllers (this host's layout: ${mounts.layout})`]: cpuacct !== undefined && memory !== undefined,
    }),
  );

  it('reads CPU time, the working set and OOM kills of a group, through kept fds', async () => {
    const cpu = makeGroup(cpuacct!);
    const mem = makeGroup(memory!);
    const reader = new CgroupReader({ cpuacct: cpu, memory: mem });
    expect(reader.openCount()).toBe(4);
    expect(reader.read()).toEqual({ cpuNs: 0, memBytes: 0, oomKills: 0 });
    startIn([cpu, mem], BURN_300MS_TOUCH_40MB);
    const u = await eventually(
      () => {
        const r = reader.read()!;
        return r.cpuNs! > 200e6 && r.memBytes! > 40e6 ? r : false;
      },
      45_000,
      'the group to have used 200 ms of CPU and 40 MB',
    );
    const usage = Number(readFileSync(`${mem}/memory.usage_in_bytes`, 'utf8'));
    expect(u.memBytes).toBeLessThanOrEqual(usage);
    expect(u.oomKills).toBe(0);
    expect(reader.read()!.cpuNs).toBeGreaterThanOrEqual(u.cpuNs!);
  }, 60_000);

  it('counts an OOM kill', async () => {
    const mem = makeGroup(memory!);
    writeFileSync(`${mem}/memory.limit_in_bytes`, String(64 * 2 ** 20));
    const reader = new CgroupReader({ memory: mem });
    const hog = startIn([mem], `${process.execPath} -e 'globalThis.b = Buffer.alloc(256 * 2 ** 20, 1)'`);
    const code = await new Promise((r) => hog.once('exit', (c, s) => r(s ?? c)));
    expect(code).toBe('SIGKILL');
    expect(reader.read()!.oomKills).toBe(1);
  });

  it('is null once the group is removed, with its fds closed', async () => {
    const mem = makeGroup(memory!);
    const reader = new CgroupReader({ memory: mem });
    const child = startIn([mem], 'sleep 30');
    await eventually(() => reader.read()!.memBytes! > 0);
    await stop(child);
    rmdirSync(mem);
    expect(reader.read()).toBeNull();
    expect(reader.openCount()).toBe(0);
  });
});

describe('CgroupReader on a real cgroup2 group beside v1 memory (the hybrid layout)', () => {
  const memory = mounts.v1.get('memory');
  beforeEach(() =>
    requireHost({
      'root (to make cgroups)': isRoot(),
      [`a cgroup2 mount and the v1 memory controller, i.e. the hybrid layout (this host's: ${mounts.layout})`]:
        mounts.layout === 'hybrid' && memory !== undefined,
    }),
  );

  it('reads cpu.stat of the unified group; its memory stays null without the controller there', async () => {
    const v2 = makeGroup(mounts.v2!);
    const mem = makeGroup(memory!);
    const reader = new CgroupReader({ unified: v2, memory: mem });
    startIn([v2, mem], BURN_300MS_TOUCH_40MB);
    const u = await eventually(
      () => {
        const r = reader.read()!;
        return r.cpuNs! > 200e6 && r.memBytes! > 40e6 ? r : false;
      },
      45_000,
      'the groups to have used 200 ms of CPU and 40 MB',
    );
    expect(u.cpuNs! % 1000).toBe(0); // microseconds scaled
    expect(new CgroupReader({ unified: v2 }).read()).toEqual({ cpuNs: expect.any(Number), memBytes: null, oomKills: null });
  }, 60_000);
});

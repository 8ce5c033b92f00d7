import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CgroupReader, detectCgroupLayout, detectCgroups, parseCgroupMounts } from '../../../src/monitor/cgroup-reader.js';
import { eventually } from '../../support/eventually.js';
import { killGroups, startGroup, stop } from './helpers.js';

/** This machine's cgroup lines of /proc/self/mountinfo (v1 controllers + an empty cgroup2). */
const HYBRID = `23 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
/** A systemd host on the unified hierarchy (optional fields before the separator). */
const UNIFIED = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
/** An older v1 host with co-mounted cpu,cpuacct and a mount point holding a space. */
const LEGACY = `25 18 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:7 - cgroup cgroup rw,cpu,cpuacct
26 18 0:23 / /sys/fs/cgroup/mem\\040ory rw,nosuid shared:8 - cgroup cgroup rw,memory,clone_children
27 18 0:24 / /sys/fs/cgroup/systemd rw shared:9 - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
`;

describe('cgroup layout detection', () => {
  it('tells hybrid, v2, v1 and none apart from mountinfo', () => {
    const h = parseCgroupMounts(HYBRID);
    expect(h.layout).toBe('hybrid');
    expect(h.v2).toBe('/sys/fs/cgroup/unified');
    expect(h.v1.get('memory')).toBe('/sys/fs/cgroup/memory');
    expect(h.v1.has('name=systemd')).toBe(false);
    expect(parseCgroupMounts(UNIFIED)).toMatchObject({ layout: 'v2', v2: '/sys/fs/cgroup' });
    const l = parseCgroupMounts(LEGACY);
    expect(l.layout).toBe('v1');
    expect(l.v1.get('cpuacct')).toBe('/sys/fs/cgroup/cpu,cpuacct');
    expect(l.v1.get('memory')).toBe('/sys/fs/cgroup/mem ory');
    expect(parseCgroupMounts('22 1 8:1 / / rw - ext4 /dev/sda1 rw\n').layout).toBe('none');
    expect(parseCgroupMounts('').layout).toBe('none');
  });

  it('finds this machine hybrid: memory and cpuacct on v1, cgroup2 at unified', () => {
    expect(detectCgroupLayout()).toBe('hybrid');
    const m = detectCgroups();
    expect(m.v1.get('memory')).toBe('/sys/fs/cgroup/memory');
    expect(m.v1.get('cpuacct')).toBe('/sys/fs/cgroup/cpuacct');
    expect(m.v2).toBe('/sys/fs/cgroup/unified');
  });
});

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

/** Runs `script` inside the given groups: the shell joins them, then execs. */
function startIn(groups: readonly string[], cmd: string) {
  const join = groups.map((g) => `echo $$ > ${g}/cgroup.procs`).join('; ');
  return startGroup('sh', ['-c', `${join}; exec ${cmd}`]);
}

const TOUCH_40MB = `${process.execPath} -e 'globalThis.b = Buffer.alloc(4e7, 1); const t = Date.now(); while (Date.now() - t < 300) {} setInterval(() => {}, 1e3)'`;

describe('CgroupReader on v1 (real groups)', () => {
  it('reads CPU time, the working set and OOM kills of a group, through kept fds', async () => {
    const cpu = makeGroup('/sys/fs/cgroup/cpuacct');
    const mem = makeGroup('/sys/fs/cgroup/memory');
    const reader = new CgroupReader({ cpuacct: cpu, memory: mem });
    expect(reader.openCount()).toBe(4);
    expect(reader.read()).toEqual({ cpuNs: 0, memBytes: 0, oomKills: 0 });
    startIn([cpu, mem], TOUCH_40MB);
    const u = await eventually(() => {
      const r = reader.read()!;
      return r.cpuNs! > 200e6 && r.memBytes! > 40e6 ? r : false;
    }, 10_000);
    const usage = Number(readFileSync(`${mem}/memory.usage_in_bytes`, 'utf8'));
    expect(u.memBytes).toBeLessThanOrEqual(usage);
    expect(u.oomKills).toBe(0);
    expect(reader.read()!.cpuNs).toBeGreaterThanOrEqual(u.cpuNs!);
  });

  it('counts an OOM kill', async () => {
    const mem = makeGroup('/sys/fs/cgroup/memory');
    writeFileSync(`${mem}/memory.limit_in_bytes`, String(32 * 2 ** 20));
    const reader = new CgroupReader({ memory: mem });
    const hog = startIn([mem], `python3 -c "b = b'x' * (200 * 2**20)"`);
    const code = await new Promise((r) => hog.once('exit', (c, s) => r(s ?? c)));
    expect(code).toBe('SIGKILL');
    expect(reader.read()!.oomKills).toBe(1);
  });

  it('is null once the group is removed, with its fds closed', async () => {
    const mem = makeGroup('/sys/fs/cgroup/memory');
    const reader = new CgroupReader({ memory: mem });
    const child = startIn([mem], 'sleep 30');
    await eventually(() => reader.read()!.memBytes! > 0);
    await stop(child);
    rmdirSync(mem);
    expect(reader.read()).toBeNull();
    expect(reader.openCount()).toBe(0);
  });
});

describe('CgroupReader on v2', () => {
  it('reads cpu.stat of a real unified group here; memory stays null without the controller', async () => {
    const v2 = makeGroup('/sys/fs/cgroup/unified');
    const mem = makeGroup('/sys/fs/cgroup/memory');
    const reader = new CgroupReader({ unified: v2, memory: mem }); // the hybrid combination
    startIn([v2, mem], TOUCH_40MB);
    const u = await eventually(() => {
      const r = reader.read()!;
      return r.cpuNs! > 200e6 && r.memBytes! > 40e6 ? r : false;
    }, 10_000);
    expect(u.cpuNs! % 1000).toBe(0); // microseconds scaled
    expect(new CgroupReader({ unified: v2 }).read()).toEqual({ cpuNs: expect.any(Number), memBytes: null, oomKills: null });
  });

  it('reads a v2 group’s files (fixtures), re-reading the same fds as they change', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dea-cg2-'));
    try {
      writeFileSync(`${dir}/cpu.stat`, 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n');
      writeFileSync(`${dir}/memory.current`, '104857600\n');
      writeFileSync(`${dir}/memory.stat`, 'anon 52428800\nfile 52428800\ninactive_file 31457280\nactive_file 20971520\n');
      writeFileSync(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n');
      const reader = new CgroupReader({ unified: dir });
      expect(reader.read()).toEqual({ cpuNs: 1_500_000, memBytes: 104857600 - 31457280, oomKills: 1 });
      writeFileSync(`${dir}/cpu.stat`, 'usage_usec 2500000\n');
      writeFileSync(`${dir}/memory.events`, 'oom 2\noom_kill 2\n');
      expect(reader.read()).toMatchObject({ cpuNs: 2.5e9, oomKills: 2 });
      reader.close();
      expect(reader.read()).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('can read memory.stat only every k-th time, reusing the inactive file figure between', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dea-cg2-'));
    try {
      writeFileSync(`${dir}/memory.current`, '1000000\n');
      writeFileSync(`${dir}/memory.stat`, 'inactive_file 100000\n');
      const reader = new CgroupReader({ unified: dir }, { memoryStatEvery: 2 });
      expect(reader.read()!.memBytes).toBe(900_000);
      writeFileSync(`${dir}/memory.stat`, 'inactive_file 300000\n');
      writeFileSync(`${dir}/memory.current`, '1200000\n');
      expect(reader.read()!.memBytes).toBe(1_100_000); // fresh usage, last inactive_file
      expect(reader.read()!.memBytes).toBe(900_000);
      reader.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is null for a group that does not exist', () => {
    expect(new CgroupReader({ unified: '/sys/fs/cgroup/unified/dea-test-missing' }).read()).toBeNull();
  });
});

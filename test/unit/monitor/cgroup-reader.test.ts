/**
 * CgroupReader on group directories of files written by the test, and layout detection on
 * mountinfo text: runs on any host. Real groups of this host's hierarchies are read in
 * test/integration/monitor/readers-host.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CgroupReader, parseCgroupMounts } from '../../../src/monitor/cgroup-reader.js';

/** A hybrid host's cgroup lines of /proc/self/mountinfo (v1 controllers + an empty cgroup2). */
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

});

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A directory standing in for a group, holding `files`; removed after the test, pass or fail. */
function groupOf(files: Readonly<Record<string, string>>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dea-cgroup-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('CgroupReader on v1 files', () => {
  it('reads CPU time, the working set (hierarchical figures) and OOM kills, re-reading the same fds', () => {
    const cpu = groupOf({ 'cpuacct.usage': '419305922\n' });
    const mem = groupOf({
      'memory.usage_in_bytes': '104857600\n',
      'memory.stat': 'cache 4096\ninactive_file 4096\ntotal_cache 8192\ntotal_inactive_file 31457280\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    });
    const reader = new CgroupReader({ cpuacct: cpu, memory: mem });
    expect(reader.openCount()).toBe(4);
    expect(reader.read()).toEqual({ cpuNs: 419305922, memBytes: 104857600 - 31457280, oomKills: 0 });
    writeFileSync(path.join(cpu, 'cpuacct.usage'), '519305922\n');
    writeFileSync(path.join(mem, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n');
    expect(reader.read()).toMatchObject({ cpuNs: 519305922, oomKills: 1 });
    reader.close();
    expect(reader.read()).toBeNull();
    expect(reader.openCount()).toBe(0);
  });
});

describe('CgroupReader on v2 files', () => {
  it('reads CPU time (microseconds scaled), the working set and OOM kills, re-reading the same fds', () => {
    const dir = groupOf({
      'cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n',
      'memory.current': '104857600\n',
      'memory.stat': 'anon 52428800\nfile 52428800\ninactive_file 31457280\nactive_file 20971520\n',
      'memory.events': 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n',
    });
    const reader = new CgroupReader({ unified: dir });
    expect(reader.read()).toEqual({ cpuNs: 1_500_000, memBytes: 104857600 - 31457280, oomKills: 1 });
    writeFileSync(`${dir}/cpu.stat`, 'usage_usec 2500000\n');
    writeFileSync(`${dir}/memory.events`, 'oom 2\noom_kill 2\n');
    expect(reader.read()).toMatchObject({ cpuNs: 2.5e9, oomKills: 2 });
    reader.close();
    expect(reader.read()).toBeNull();
  });

  it('leaves memory null where the memory files are missing (a hybrid host\'s controller-less cgroup2)', () => {
    const dir = groupOf({ 'cpu.stat': 'usage_usec 7\n' });
    expect(new CgroupReader({ unified: dir }).read()).toEqual({ cpuNs: 7000, memBytes: null, oomKills: null });
  });

  it('can read memory.stat only every k-th time, reusing the inactive file figure between', () => {
    const dir = groupOf({ 'memory.current': '1000000\n', 'memory.stat': 'inactive_file 100000\n' });
    const reader = new CgroupReader({ unified: dir }, { memoryStatEvery: 2 });
    expect(reader.read()!.memBytes).toBe(900_000);
    writeFileSync(`${dir}/memory.stat`, 'inactive_file 300000\n');
    writeFileSync(`${dir}/memory.current`, '1200000\n');
    expect(reader.read()!.memBytes).toBe(1_100_000); // fresh usage, last inactive_file
    expect(reader.read()!.memBytes).toBe(900_000);
    reader.close();
  });

  it('is null for a group that does not exist', () => {
    expect(new CgroupReader({ unified: path.join(groupOf({}), 'missing') }).read()).toBeNull();
  });
});

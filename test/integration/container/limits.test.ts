/**
 * The container backend on this host's real cgroups: every limit lands in the file the
 * kernel enforces, the app is in its groups from its first instruction, and a start,
 * stop and destroy leave no group, uid or record behind.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceProcess } from '../../../src/backends/types.js';
import { containerHarness, readLog, waitFor, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await containerHarness();
});
afterAll(async () => {
  await h?.close();
});

const read = (path: string) => readFileSync(path, 'utf8').trim();

describe('limits', () => {
  it('writes memory, memsw, cpu shares, pids and the device list into the instance groups', async () => {
    const spec = await h.instance('cat /proc/self/cgroup; exec sleep 60', {
      limits: { memMb: 96, diskMb: 64, fds: 300, nproc: 77, cpuShares: 12 },
    });
    const p = await h.backend.launch(spec);
    try {
      const id = spec.instanceId;
      if (h.host.v1.has('memory')) {
        expect(read(join(h.groupDir('memory', id), 'memory.limit_in_bytes'))).toBe(String(96 * 1024 * 1024));
        if (h.host.hasMemsw) expect(read(join(h.groupDir('memory', id), 'memory.memsw.limit_in_bytes'))).toBe(String(96 * 1024 * 1024));
      }
      if (h.host.v1.has('cpu')) expect(read(join(h.groupDir('cpu', id), 'cpu.shares'))).toBe('12');
      if (h.host.v1.has('pids')) expect(read(join(h.groupDir('pids', id), 'pids.max'))).toBe('77');
      if (h.host.v1.has('devices')) {
        const list = read(join(h.groupDir('devices', id), 'devices.list')).split('\n').sort();
        expect(list).toEqual(['c 136:* rwm', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm', 'c 5:0 rwm', 'c 5:2 rwm']);
      }
      // The app's own view of its cgroups: the instance's group in every controller used.
      await waitFor(() => expect(readLog(spec)).toContain(`memory:/${h.cgroupRoot}/${id}`));
      expect(readLog(spec)).toContain(`pids:/${h.cgroupRoot}/${id}`);
      // And the kernel's view: every process of the instance is in its groups.
      const pids = await p.pids();
      expect(pids.length).toBeGreaterThanOrEqual(2); // the init and the app
      expect(read(join(h.groupDir('memory', id), 'cgroup.procs')).split('\n').map(Number).sort()).toEqual([...pids].sort());
    } finally {
      await stopAndDestroy(p);
    }
  });

  it('limits open files and file size with rlimits, as the process backend does', async () => {
    const spec = await h.instance('echo "nofile=$(ulimit -n) fsize=$(ulimit -f)"; exec sleep 60', {
      limits: { memMb: 64, diskMb: 3, fds: 123, nproc: 64, cpuShares: 8 },
    });
    const p = await h.backend.launch(spec);
    try {
      // ulimit -f counts 1024-byte blocks in bash.
      await waitFor(() => expect(readLog(spec)).toContain('nofile=123 fsize=3072'));
    } finally {
      await stopAndDestroy(p);
    }
  });

  it('reports usage from the cgroup counters: CPU time grows while the app burns', async () => {
    const spec = await h.instance('exec /usr/bin/node -e "for(;;){}"');
    const p = await h.backend.launch(spec);
    try {
      const first = p.usage?.();
      expect(first).not.toBeNull();
      await waitFor(() => expect(p.usage?.()?.cpuSeconds ?? 0).toBeGreaterThan((first?.cpuSeconds ?? 0) + 0.2), 30_000);
      const now = p.usage?.();
      expect(now?.memBytes).toBeGreaterThan(1024 * 1024); // node's heap, at least
      expect(now?.pids).toEqual(await p.pids());
      // Warden-style figures from the group itself.
      expect(now?.container?.rssBytes).toBeGreaterThan(1024 * 1024);
      expect(now?.container?.pids).toBe(now?.pids.length);
      expect(now?.container?.cpuNs).toBeGreaterThan(2e8);
      expect(now?.container?.oomKills).toBe(0);
    } finally {
      await stopAndDestroy(p);
    }
  });
});

describe('clean-up', () => {
  it('leaves no group, mount, uid, record or process after 100 starts and stops', async () => {
    const before = h.leftoverGroups();
    const uids = new Set<number>();
    const supervisors = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const spec = await h.instance(i % 2 === 0 ? 'exec sleep 60' : 'exit 3');
      const p = await h.backend.launch(spec);
      uids.add(Number(p.handle.uid));
      supervisors.add(Number(p.handle.supervisorPid)).add(Number(p.handle.initPid));
      if (i % 2 === 0) await p.stop(5_000);
      else expect((await p.exited).exitStatus).toBe(3);
      await p.destroy();
    }
    expect(h.leftoverGroups()).toEqual(before);
    expect(await (await import('node:fs/promises')).readdir(join(h.base, 'uids'))).toEqual([]);
    expect(await (await import('node:fs/promises')).readdir(join(h.base, 'run'))).toEqual([]);
    // No mount of the host's (the containers' own were in their mount namespaces) names
    // the base dir, and no process runs as one of the instances' uids or is a supervisor.
    expect(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(h.base))).toEqual([]);
    expect(processesOf(uids, supervisors)).toEqual([]);
  }, 120_000);
});

/** Live processes (not zombies) whose real uid is one of `uids`, or whose pid is one of `pids`. */
function processesOf(uids: ReadonlySet<number>, pids: ReadonlySet<number>): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (/^State:\s+Z/m.test(status)) continue;
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      // A pid taken again by an unrelated process is not a supervisor: check its name.
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '';
      if (uids.has(uid) || (pids.has(Number(entry)) && name.startsWith('dea-container'))) found.push(`${entry} ${name} uid=${uid}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function stopAndDestroy(p: InstanceProcess): Promise<void> {
  await p.stop(5_000);
  await p.destroy();
}

describe('a container that cannot be made', () => {
  it('fails the launch with the reason and leaves no group, uid or record (rootfs missing)', async () => {
    const before = h.leftoverGroups();
    const spec = await h.instance('exec sleep 60', { rootfs: '/nonexistent-rootfs' });
    await expect(h.backend.launch(spec)).rejects.toThrow(/root filesystem \/nonexistent-rootfs is not a directory/);
    expect(h.leftoverGroups()).toEqual(before);
    const { readdir } = await import('node:fs/promises');
    // Refused before anything was taken: the backend's directories may not even exist yet.
    expect(await readdir(join(h.base, 'uids')).catch(() => [])).toEqual([]);
    expect(await readdir(join(h.base, 'run')).catch(() => [])).toEqual([]);
  });

  it('fails the launch when the kernel refuses a limit, and leaves no group, uid or record (cgroups not writable)', async () => {
    const before = h.leftoverGroups();
    // pids.max takes no negative number: the write fails on the real kernel after the
    // memory and cpu groups were made, so the clean-up of a part-made container runs.
    const spec = await h.instance('exec sleep 60', { limits: { memMb: 64, diskMb: 64, fds: 256, nproc: -5, cpuShares: 16 } });
    const err = await h.backend.launch(spec).catch((e: unknown) => e);
    expect((err as { exitDescription?: string }).exitDescription).toMatch(/^failed to start: cannot create the container's cgroups: /);
    expect(h.leftoverGroups()).toEqual(before);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(h.base, 'uids'))).toEqual([]);
    expect(await readdir(join(h.base, 'run'))).toEqual([]);
  });

  it('fails the launch when the uid pool is exhausted, with a clear exit description', async () => {
    const small = await containerHarness({ uidPoolSize: 1 });
    try {
      const first = await small.backend.launch(await small.instance('exec sleep 60'));
      const err = await small.backend.launch(await small.instance('exec sleep 60')).catch((e: unknown) => e);
      expect((err as { exitDescription?: string }).exitDescription).toMatch(/^failed to start: no free uid/);
      // Only the first instance's groups exist (one per hierarchy): the refused one made none.
      const groups = small.leftoverGroups();
      expect(groups.length).toBeGreaterThan(0);
      expect(groups.every((g) => g.endsWith(`/${String(first.handle.cgroup)}`))).toBe(true);
      await first.stop(5_000);
      await first.destroy();
      expect(small.leftoverGroups()).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('what an earlier agent left', () => {
  it('sweeps what no adopted instance explains: an ended container released, a running one killed, an adopted one kept', async () => {
    const { sweepEndedContainers } = await import('../../../src/backends/container/sweep.js');
    const { UidPool } = await import('../../../src/backends/container/uid-pool.js');
    const { systemClock } = await import('../../../src/platform/clock.js');
    const ended = await h.backend.launch(await h.instance('exit 0'));
    await ended.exited;
    const stray = await h.backend.launch(await h.instance('exec sleep 60'));
    const adopted = await h.backend.launch(await h.instance('exec sleep 60'));
    const [endedId, strayId, adoptedId] = [ended, stray, adopted].map((p) => String(p.handle.cgroup));
    // Not destroyed, as if the agent that launched them had been killed.
    const uids = new UidPool({ dir: join(h.base, 'uids'), start: 0, size: 1 << 30, reserved: new Set() });
    const result = await sweepEndedContainers({ runDir: join(h.base, 'run'), host: h.host, cgroupRoot: h.cgroupRoot, uids, clock: systemClock }, new Set([adoptedId!]));
    expect(result).toEqual({ removed: [endedId], killed: [strayId], kept: [adoptedId] });
    expect((await stray.exited).exitStatus).toBe(137);
    expect(h.leftoverGroups().filter((g) => !g.endsWith(adoptedId!))).toEqual([]);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(h.base, 'run'))).toEqual([adoptedId]);
    expect(await readdir(join(h.base, 'uids'))).toEqual([String(adopted.handle.uid)]);
    await stopAndDestroy(adopted);
  });

});

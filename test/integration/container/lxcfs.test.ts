/**
 * With a real LXCFS mounted, an app's /proc/meminfo shows its own memory limit and its
 * /proc/uptime its own age, not the host's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { containerHarness, readLog, waitFor, type Harness } from './harness.js';
import { startLxcfs, type Lxcfs } from './lxcfs.js';

let lxcfs: Lxcfs;
let h: Harness;
beforeAll(async () => {
  lxcfs = await startLxcfs();
  h = await containerHarness({ lxcfsDir: lxcfs.dir });
});
afterAll(async () => {
  await h?.close();
  await lxcfs?.stop();
});

it('shows the instance its own memory limit and uptime through LXCFS', async () => {
  const spec = await h.instance('grep MemTotal /proc/meminfo; echo "uptime $(cut -d" " -f1 /proc/uptime)"; awk \'$9 == "lxcfs" || $10 == "lxcfs" || $0 ~ / - fuse.lxcfs / { print "lxcfs-mount " $5 }\' /proc/self/mountinfo; echo done; exec sleep 60', {
    limits: { memMb: 200, diskMb: 64, fds: 256, nproc: 64, cpuShares: 16 },
  });
  const p = await h.backend.launch(spec);
  try {
    await waitFor(() => expect(readLog(spec)).toContain('done'));
    const log = readLog(spec);
    expect(Number(/MemTotal:\s+(\d+) kB/.exec(log)?.[1])).toBe(200 * 1024);
    // The age of the container's init, seconds; the host has been up far longer.
    expect(Number(/uptime ([\d.]+)/.exec(log)?.[1])).toBeLessThan(30);
    // Every file the issue lists is LXCFS's in the container, not only these two.
    const bound = [...log.matchAll(/^lxcfs-mount (\S+)$/gm)].map((m) => m[1]).sort();
    expect(bound).toEqual(['/proc/cpuinfo', '/proc/diskstats', '/proc/loadavg', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime', '/sys/devices/system/cpu/online']);
  } finally {
    await p.stop(5_000);
    await p.destroy();
  }
});

it('goes on without LXCFS where none is mounted: the host figures show', async () => {
  const plain = await containerHarness();
  try {
    const spec = await plain.instance('grep MemTotal /proc/meminfo; echo done', {
      limits: { memMb: 200, diskMb: 64, fds: 256, nproc: 64, cpuShares: 16 },
    });
    const p = await plain.backend.launch(spec);
    expect((await p.exited).exitStatus).toBe(0);
    await p.destroy();
    expect(Number(/MemTotal:\s+(\d+) kB/.exec(readLog(spec))?.[1])).toBeGreaterThan(200 * 1024);
  } finally {
    await plain.close();
  }
});

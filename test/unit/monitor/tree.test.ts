import { afterEach, describe, expect, it } from 'vitest';
import { processTree } from '../../../src/backends/process/proc-tree.js';
import { ProcReader } from '../../../src/monitor/proc-reader.js';
import { childrenOf, descendants, sampleKnown, sampleTree } from '../../../src/monitor/tree.js';
import { eventually } from '../../support/eventually.js';
import { cpuBurner, killGroups, startGroup, stop } from './helpers.js';

afterEach(killGroups);

/** A shell that, after a moment, forks two children which each allocate and touch ~40 MB. */
const FORKER = `sleep 0.3; ${process.execPath} -e 'globalThis.b = Buffer.alloc(4e7, 1); setInterval(() => {}, 1e3)' & ${process.execPath} -e 'globalThis.b = Buffer.alloc(4e7, 1); setInterval(() => {}, 1e3)' & wait`;

describe('descendants', () => {
  it('finds a forking process’s children, with and without a reader, as processTree does', async () => {
    const sh = startGroup('sh', ['-c', 'sleep 30 & sleep 30 & (sleep 30 & wait) & wait']);
    const reader = new ProcReader();
    const all = await eventually(() => {
      const d = descendants(sh.pid, reader);
      return d.length === 4 ? d : false; // two sleeps, a subshell, and its sleep
    });
    expect(new Set(descendants(sh.pid))).toEqual(new Set(all));
    expect(new Set(processTree(sh.pid))).toEqual(new Set([sh.pid, ...all]));
    expect(childrenOf(sh.pid)).toHaveLength(3);
    reader.closeAll();
  });

  it('is empty for a childless or missing process', () => {
    const child = startGroup('sleep', ['30']);
    expect(descendants(child.pid)).toEqual([]);
    expect(descendants(2 ** 22 + 7, new ProcReader())).toEqual([]);
  });
});

describe('sampleTree', () => {
  it('counts forked children: the pid list and the RSS sum grow', async () => {
    const sh = startGroup('sh', ['-c', FORKER]);
    const reader = new ProcReader();
    const before = sampleTree(sh.pid, reader)!;
    expect(before.pids[0]).toBe(sh.pid);
    const after = await eventually(() => {
      const t = sampleTree(sh.pid, reader)!;
      return t.pids.length === 3 && t.rssBytes > before.rssBytes + 2 * 40e6 ? t : false;
    }, 30_000);
    expect(after.pids.slice(1).every((p) => reader.sample(p)!.ppid === sh.pid)).toBe(true);
    reader.closeAll();
  }, 60_000);

  it('keeps a reaped child’s CPU time through its parent’s cutime', async () => {
    // The child burns 300 ms of CPU (however long that takes), then idles until TERMed;
    // the shell, which waits for it, then reaps it.
    const sh = startGroup('sh', ['-c', `${cpuBurner(300)}; sleep 30`]);
    const reader = new ProcReader();
    const busy = await eventually(
      () => {
        const t = sampleTree(sh.pid, reader)!;
        return t.cpuTicks >= 0.25 * reader.clkTck && t.pids.length === 2 ? t : false;
      },
      45_000,
      'the child to have burnt 250 ms',
    );
    const burner = busy.pids[1]!;
    process.kill(burner, 'SIGTERM');
    // Reaped: gone from the tree, its ticks now in the shell's cutime.
    const later = await eventually(() => {
      const t = sampleTree(sh.pid, reader)!;
      return !t.pids.includes(burner) && reader.sample(sh.pid)!.childTicks > 0 ? t : false;
    }, 10_000);
    expect(later.cpuTicks).toBeGreaterThanOrEqual(busy.cpuTicks);
    reader.closeAll();
  }, 60_000);

  it('is null once the root is gone', async () => {
    const child = startGroup('sleep', ['30']);
    const reader = new ProcReader();
    expect(sampleTree(child.pid, reader)).not.toBeNull();
    await stop(child);
    expect(sampleTree(child.pid, reader)).toBeNull();
    expect(reader.openCount()).toBe(0);
  });
});

describe('sampleKnown', () => {
  it('samples a listed tree without reading children, dropping what has gone, null without its root', async () => {
    const sh = startGroup('sh', ['-c', 'sleep 30 & sleep 30 & wait']);
    const reader = new ProcReader();
    const tree = await eventually(() => {
      const t = sampleTree(sh.pid, reader);
      return t !== null && t.pids.length === 3 ? t : false;
    });
    const known = sampleKnown(tree.pids, reader)!;
    expect(known.pids).toEqual(tree.pids);
    expect(known.rssBytes).toBeGreaterThan(0);
    const gone = tree.pids[2]!;
    process.kill(gone, 'SIGKILL');
    const after = await eventually(() => {
      const k = sampleKnown(tree.pids, reader);
      return k !== null && !k.pids.includes(gone) ? k : false;
    });
    expect(after.pids).toEqual(tree.pids.filter((p) => p !== gone));
    expect(sampleKnown([2 ** 22 + 7, ...tree.pids.slice(1)], reader)).toBeNull();
    reader.closeAll();
  });
});

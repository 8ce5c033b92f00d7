import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTimeTicks } from '../../../src/backends/process/proc-tree.js';
import { cpuFraction } from '../../../src/monitor/cpu.js';
import { DEFAULT_KERNEL_CONSTANTS, kernelConstants, parseAuxv } from '../../../src/monitor/kernel.js';
import { ProcReader } from '../../../src/monitor/proc-reader.js';
import { eventually } from '../../support/eventually.js';
import { killGroups, ownFdsInto, startGroup, stop } from './helpers.js';

afterEach(killGroups);

describe('ProcReader', () => {
  it('samples a live process through one kept fd', async () => {
    const child = startGroup('sleep', ['30']);
    const reader = new ProcReader();
    // Right after spawn the child may not have exec'd yet (no RSS of its own).
    const s = await eventually(() => reader.sample(child.pid)?.state === 'S' && reader.sample(child.pid));
    expect(s).toMatchObject({ ppid: process.pid, pgrp: child.pid, numThreads: 1 });
    expect(s!.rssBytes).toBeGreaterThan(0);
    expect(s!.rssBytes % kernelConstants().pageSize).toBe(0);
    expect(s!.startTicks).toBe(startTimeTicks(child.pid));
    reader.sample(child.pid);
    expect(reader.openCount()).toBe(1);
    expect(ownFdsInto(child.pid)).toBe(1);
    reader.closeAll();
    expect(ownFdsInto(child.pid)).toBe(0);
  });

  it('returns null and closes the fd once the process has exited', async () => {
    const child = startGroup('sleep', ['30']);
    const reader = new ProcReader();
    expect(reader.sample(child.pid)).not.toBeNull();
    reader.children(child.pid);
    expect(ownFdsInto(child.pid)).toBe(2); // stat + the one thread's children file
    await stop(child); // reaped: the kept fd now reads ESRCH
    expect(reader.sample(child.pid)).toBeNull();
    expect(reader.openCount()).toBe(0);
    expect(ownFdsInto(child.pid)).toBe(0);
  });

  it('returns null for a pid that does not exist, holding nothing', () => {
    const reader = new ProcReader();
    expect(reader.sample(2 ** 22 + 7)).toBeNull();
    expect(reader.openCount()).toBe(0);
  });

  it('refuses a process that is not the one expected (pid reuse), and closes it', () => {
    const child = startGroup('sleep', ['30']);
    const reader = new ProcReader();
    const start = startTimeTicks(child.pid)!;
    expect(reader.sample(child.pid, start)).not.toBeNull();
    expect(reader.sample(child.pid, start + 1)).toBeNull();
    expect(reader.openCount()).toBe(0);
  });

  it('reads a process whose command name holds ") " and " ("', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dea-comm-'));
    try {
      const odd = path.join(dir, 'a) b (c');
      copyFileSync('/bin/sleep', odd);
      const child = startGroup(odd, ['30']);
      const reader = new ProcReader();
      // Sleeping once it has exec'd and settled: every field after the name is in place.
      const s = await eventually(() => reader.sample(child.pid)?.state === 'S' && reader.sample(child.pid));
      expect(s).toMatchObject({ ppid: process.pid, pgrp: child.pid, numThreads: 1 });
      expect(readFileSync(`/proc/${child.pid}/comm`, 'utf8')).toBe('a) b (c\n');
      reader.closeAll();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns pages and ticks into bytes and seconds with the constants it is given', async () => {
    const child = startGroup('sleep', ['30']);
    const odd = new ProcReader({ constants: { pageSize: 1000, clkTck: 7 } });
    // Field 24 of the stat line, in pages. Both are read a moment apart while `sleep` may
    // still be faulting its pages in, hence the wait.
    const rssPages = () => {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[21]);
    };
    await eventually(() => odd.sample(child.pid)?.rssBytes === rssPages() * 1000, 10_000, 'rss = stat rss pages × 1000');
    expect(odd.clkTck).toBe(7);
    odd.closeAll();
  });

  it('retain() closes every process not kept', () => {
    const a = startGroup('sleep', ['30']);
    const b = startGroup('sleep', ['30']);
    const reader = new ProcReader();
    reader.sample(a.pid);
    reader.sample(b.pid);
    reader.retain(new Set([a.pid]));
    expect(reader.pids()).toEqual([a.pid]);
    expect(ownFdsInto(b.pid)).toBe(0);
    reader.close(a.pid);
    expect(reader.openCount()).toBe(0);
  });

  it('a busy process’s CPU fraction matches the kernel’s run time for it; a sleeping one is 0', async () => {
    const busy = startGroup(process.execPath, ['-e', 'for(;;){}']);
    const idle = startGroup('sleep', ['30']);
    const reader = new ProcReader();
    // /proc/<pid>/schedstat's first field is time on a CPU in ns: an independent account.
    const runNs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    await eventually(() => runNs(busy.pid) > 100e6, 30_000, 'node past its start-up');
    const read = (pid: number) => ({ ticks: reader.sample(pid)!.cpuTicks, atMs: performance.now() });
    const b0 = read(busy.pid);
    const r0 = runNs(busy.pid);
    const i0 = read(idle.pid);
    // A window holding 500 ms of the busy process's CPU time, however long the machine
    // takes to give it: a tick's rounding at each end is then at most 4 % of the figure.
    await eventually(() => runNs(busy.pid) - r0 > 500e6, 30_000, 'the busy process to run 500 ms');
    const b1 = read(busy.pid);
    const r1 = runNs(busy.pid);
    const fraction = cpuFraction(b0, b1, reader.clkTck);
    expect(fraction).toBeGreaterThan(0);
    expect(fraction).toBeLessThan(1.1);
    expect(Math.abs(fraction - (r1 - r0) / 1e6 / (b1.atMs - b0.atMs))).toBeLessThan(0.1);
    expect(cpuFraction(i0, read(idle.pid), reader.clkTck)).toBe(0);
  }, 60_000);

  it('finds children forked from a thread other than the main one', async () => {
    const worker = `const { spawn } = require('child_process'); spawn('sleep', ['30'], { stdio: 'ignore' }); setInterval(() => {}, 1000);`;
    const parent = startGroup(process.execPath, ['-e', `new (require('worker_threads').Worker)(${JSON.stringify(worker)}, { eval: true }); setInterval(() => {}, 1000);`]);
    const reader = new ProcReader();
    const kids = await eventually(() => {
      reader.sample(parent.pid);
      const k = reader.children(parent.pid);
      return k.length > 0 ? k : false;
    });
    expect(kids).toHaveLength(1);
    expect(reader.sample(kids[0]!)!.ppid).toBe(parent.pid);
    expect(reader.openCount()).toBeGreaterThan(3); // node has several threads, one children fd each
    reader.closeAll();
    expect(reader.openCount()).toBe(0);
    // With no fd budget for threads, their children files are read by path: same answer.
    const frugal = new ProcReader({ maxTaskFds: 0 });
    frugal.sample(parent.pid);
    expect(frugal.children(parent.pid)).toEqual(kids);
    expect(frugal.openCount()).toBe(1);
    expect(ownFdsInto(parent.pid)).toBe(1);
    frugal.closeAll();
  });
});

describe('kernel constants', () => {
  it('fall back to x86_64 Linux’s 4 KiB pages and USER_HZ 100 where auxv cannot be read', () => {
    expect(DEFAULT_KERNEL_CONSTANTS).toEqual({ pageSize: 4096, clkTck: 100 });
  });

  it('parses 64-bit little-endian and 32-bit big-endian vectors, stopping at AT_NULL', () => {
    const le = Buffer.alloc(64);
    [[6n, 16384n], [17n, 250n], [0n, 0n], [6n, 1n]].forEach(([t, v], i) => {
      le.writeBigUInt64LE(t!, i * 16);
      le.writeBigUInt64LE(v!, i * 16 + 8);
    });
    expect(parseAuxv(le, 8, true)).toEqual({ pageSize: 16384, clkTck: 100 * 2.5 });
    const be = Buffer.alloc(16);
    [6, 65536, 33, 7].forEach((w, i) => be.writeUInt32BE(w, i * 4));
    expect(parseAuxv(be, 4, false)).toEqual({ pageSize: 65536 });
  });
});

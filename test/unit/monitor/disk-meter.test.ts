import { execFileSync } from 'node:child_process';
import {
  appendFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskMeter } from '../../../src/monitor/disk-meter.js';
import { eventually } from '../../support/eventually.js';
import { holdsOpen, killGroups, startGroup, stop } from './helpers.js';

let root: string;
let dir: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'dea-disk-'));
  dir = path.join(root, 'instance');
  mkdirSync(dir);
});

afterEach(async () => {
  await killGroups();
  rmSync(root, { recursive: true, force: true });
});

/** du's answer in bytes: allocated blocks, hard links once, symlinks not followed. */
const du = (p: string) => Number(execFileSync('du', ['-s', '-B1', p], { encoding: 'utf8' }).split('\t')[0]);

/** `n` files of `size` bytes in each of `dirs` subdirectories. */
function populate(dirs: number, n: number, size: number): void {
  for (let d = 0; d < dirs; d++) {
    mkdirSync(path.join(dir, `d${d}`), { recursive: true });
    for (let f = 0; f < n; f++) writeFileSync(path.join(dir, `d${d}`, `f${f}`), Buffer.alloc(size, 1));
  }
}

/**
 * Moves every directory's mtime a minute back, so a pass sees a later change as a change
 * and never re-lists a directory just for having been modified a moment ago.
 */
function ageDirs(p = dir): void {
  const past = new Date(Date.now() - 60_000);
  for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) ageDirs(path.join(p, e.name));
  utimesSync(p, past, past);
}

describe('DiskMeter.measure', () => {
  it('agrees with du, and grows as files and directories appear', () => {
    const meter = new DiskMeter();
    const empty = meter.measure('a', dir, [], Date.now());
    expect(empty).toMatchObject({ bytes: du(dir), full: true });
    populate(3, 10, 5000);
    mkdirSync(path.join(dir, 'd1', 'deep', 'deeper'), { recursive: true });
    writeFileSync(path.join(dir, 'd1', 'deep', 'deeper', 'x'), Buffer.alloc(70_000, 1));
    const grown = meter.measure('a', dir, [], Date.now());
    expect(grown.bytes).toBe(du(dir));
    expect(grown.bytes).toBeGreaterThan(empty.bytes + 30 * 5000 + 70_000);
    expect(meter.last('a')).toEqual(grown);
  });

  it('re-lists only directories whose mtime changed', () => {
    populate(20, 20, 100);
    const meter = new DiskMeter();
    meter.measure('a', dir, [], Date.now());
    ageDirs();
    meter.measure('a', dir, [], Date.now()); // settles the just-written (racy) directories
    const before = meter.stats();
    writeFileSync(path.join(dir, 'd7', 'new'), Buffer.alloc(9000, 1));
    const after = meter.measure('a', dir, [], Date.now());
    const s = meter.stats();
    expect(after).toMatchObject({ bytes: du(dir), full: false });
    expect(s.dirsStat - before.dirsStat).toBe(21); // the root and 20 subdirectories
    expect(s.dirsRead - before.dirsRead).toBe(1); // d7 only
    expect(s.filesStat - before.filesStat).toBe(21); // d7's entries
  });

  it('shrinks when files and directories are deleted', () => {
    populate(2, 10, 20_000);
    const meter = new DiskMeter();
    const full = meter.measure('a', dir, [], Date.now()).bytes;
    rmSync(path.join(dir, 'd0'), { recursive: true });
    rmSync(path.join(dir, 'd1', 'f3'));
    const after = meter.measure('a', dir, [], Date.now()).bytes;
    expect(after).toBe(du(dir));
    expect(after).toBeLessThan(full - 11 * 20_000);
  });

  it('sees a file grow in place while a process it was given holds it open for writing', async () => {
    populate(1, 1, 100);
    const log = path.join(dir, 'd0', 'app.log');
    writeFileSync(log, 'start\n');
    const holder = startGroup('sh', ['-c', `exec 3>>'${log}'; sleep 30`]);
    const meter = new DiskMeter();
    await eventually(() => holdsOpen(holder.pid, log));
    ageDirs();
    const unaware = new DiskMeter(); // not told about the holder
    const before = meter.measure('a', dir, [holder.pid], Date.now()).bytes;
    expect(unaware.measure('a', dir, [], Date.now()).bytes).toBe(before);
    const dirMtime = statSync(path.join(dir, 'd0')).mtimeMs;
    appendFileSync(log, Buffer.alloc(300_000, 1));
    expect(statSync(path.join(dir, 'd0')).mtimeMs).toBe(dirMtime); // an append touches no directory
    const statsBefore = meter.stats();
    const after = meter.measure('a', dir, [holder.pid], Date.now());
    expect(after.bytes).toBe(du(dir));
    expect(after.bytes).toBeGreaterThan(before + 290_000); // 300 kB appended to a 4 KiB-block file
    expect(meter.stats().dirsRead).toBe(statsBefore.dirsRead); // no directory re-listed
    expect(meter.stats().filesStat).toBeGreaterThan(statsBefore.filesStat); // re-stat'ed through its fd
    expect(unaware.measure('a', dir, [], Date.now()).bytes).toBe(before); // what the pid list buys
  });

  it('a file opened for writing after its directory was listed: one re-listing, then fd updates', async () => {
    populate(3, 3, 100);
    const log = path.join(dir, 'd2', 'late.log');
    writeFileSync(log, 'x');
    ageDirs();
    const meter = new DiskMeter();
    meter.measure('a', dir, [], Date.now());
    const holder = startGroup('sh', ['-c', `exec 3>>'${log}'; sleep 30`]);
    await eventually(() => holdsOpen(holder.pid, log));
    const s0 = meter.stats();
    meter.measure('a', dir, [holder.pid], Date.now());
    expect(meter.stats().dirsRead - s0.dirsRead).toBe(1); // d2, to learn the log's counted share
    appendFileSync(log, Buffer.alloc(200_000, 1));
    const s1 = meter.stats();
    expect(meter.measure('a', dir, [holder.pid], Date.now()).bytes).toBe(du(dir));
    expect(meter.stats().dirsRead).toBe(s1.dirsRead);
  });

  it('counts a deleted file while a process still holds it, as the filesystem does', async () => {
    const big = path.join(dir, 'big');
    writeFileSync(big, Buffer.alloc(1_000_000, 1));
    const holder = startGroup('sh', ['-c', `exec 3>>'${big}'; sleep 30`]);
    await eventually(() => holdsOpen(holder.pid, big));
    rmSync(big);
    const meter = new DiskMeter();
    const held = meter.measure('a', dir, [holder.pid], Date.now()).bytes;
    expect(held).toBeGreaterThanOrEqual(du(dir) + 1_000_000);
    await stop(holder);
    expect(meter.measure('a', dir, [holder.pid], Date.now()).bytes).toBe(du(dir));
  });

  it('the rolling rescan catches an in-place rewrite of a closed file within fullRescanMs', () => {
    populate(2, 5, 1000);
    ageDirs();
    const meter = new DiskMeter({ fullRescanMs: 60_000 });
    const t0 = Date.now();
    expect(meter.measure('a', dir, [], t0).full).toBe(true);
    appendFileSync(path.join(dir, 'd1', 'f2'), Buffer.alloc(500_000, 1));
    const missed = meter.measure('a', dir, [], t0 + 2000);
    expect(missed.full).toBe(false);
    expect(missed.bytes).toBeLessThan(du(dir) - 400_000); // no writer open, no mtime change: not seen yet
    const rescanned = meter.measure('a', dir, [], t0 + 60_000);
    expect(rescanned).toMatchObject({ full: true, bytes: du(dir), measuredAtMs: t0 + 60_000 });
  });

  it('spreads the rescan of an instance’s directories over its passes', () => {
    populate(40, 2, 100);
    ageDirs();
    const meter = new DiskMeter({ fullRescanMs: 60_000 });
    const t0 = Date.now();
    meter.measure('a', dir, [], t0); // lists all 41 directories once
    const listedPerPass: number[] = [];
    for (let t = 3000; t <= 63_000; t += 3000) {
      const before = meter.stats().dirsRead;
      expect(meter.measure('a', dir, [], t0 + t).bytes).toBe(du(dir));
      listedPerPass.push(meter.stats().dirsRead - before);
    }
    expect(listedPerPass.slice(0, 20).reduce((a, b) => a + b)).toBe(41); // each once within 60 s
    expect(Math.max(...listedPerPass)).toBeLessThanOrEqual(4); // ~2 a pass, never all at once
  });

  it('does not follow a symlink to /etc, and counts hard links once', () => {
    populate(2, 1, 50_000);
    const meter = new DiskMeter();
    const plain = meter.measure('a', dir, [], Date.now()).bytes;
    symlinkSync('/etc', path.join(dir, 'etc'));
    symlinkSync('/etc/passwd', path.join(dir, 'd0', 'passwd'));
    linkSync(path.join(dir, 'd0', 'f0'), path.join(dir, 'd1', 'again'));
    linkSync(path.join(dir, 'd0', 'f0'), path.join(dir, 'third'));
    const after = meter.measure('a', dir, [], Date.now()).bytes;
    expect(after).toBe(du(dir));
    expect(after).toBe(plain); // fast symlinks and extra links take no blocks
  });

  it('measures a missing directory as 0 and starts over when the directory is replaced', () => {
    const meter = new DiskMeter();
    expect(meter.measure('gone', path.join(root, 'nope'), [], Date.now())).toMatchObject({ bytes: 0, full: true });
    populate(1, 3, 40_000);
    meter.measure('a', dir, [], Date.now());
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'only'), 'x');
    meter.measure('a', dir, [], Date.now()); // notices the new root
    expect(meter.measure('a', dir, [], Date.now()).bytes).toBe(du(dir));
    meter.forget('a');
    expect(meter.last('a')).toBeNull();
  });
});

describe('DiskMeter.due', () => {
  const TICK = 2000;
  const MAX_AGE = 30_000;

  /** Runs `ticks` monitor ticks over `keys` (missing dirs: measuring costs nothing). */
  function simulate(meter: DiskMeter, keys: string[], ticks: number, budget?: number) {
    const perTick: number[] = [];
    let worstAge = 0;
    for (let t = 0; t < ticks; t++) {
      const now = 1_000_000 + t * TICK;
      const due = meter.due(keys, now, MAX_AGE, budget);
      perTick.push(due.length);
      for (const k of due) meter.measure(k, `/nonexistent/${k}`, [], now);
      for (const k of keys) worstAge = Math.max(worstAge, now - (meter.last(k)?.measuredAtMs ?? now));
    }
    return { perTick, worstAge };
  }

  it('spreads 500 instances evenly and keeps every figure at most 30 s old', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `i${i}`);
    const meter = new DiskMeter();
    const { perTick, worstAge } = simulate(meter, keys, 100);
    expect(worstAge).toBeLessThanOrEqual(MAX_AGE);
    expect(Math.max(...perTick)).toBe(36); // ceil(500 × 2 s / 28 s)
    expect(Math.min(...perTick)).toBe(36);
    expect(perTick.slice(0, 14).reduce((a, b) => a + b)).toBeGreaterThanOrEqual(500); // all measured in the first window
  });

  it('measures a new instance at the next tick', () => {
    const keys = Array.from({ length: 50 }, (_, i) => `i${i}`);
    const meter = new DiskMeter();
    simulate(meter, keys, 20);
    expect(meter.due([...keys, 'new'], 1_000_000 + 20 * TICK, MAX_AGE)[0]).toBe('new');
  });

  it('with a budget too small, measures the oldest first and the age shows it', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `i${i}`);
    const meter = new DiskMeter();
    const { perTick, worstAge } = simulate(meter, keys, 60, 2);
    expect(new Set(perTick)).toEqual(new Set([2]));
    expect(worstAge).toBe(49 * TICK); // round robin, 2 of 100 a tick
  });
});

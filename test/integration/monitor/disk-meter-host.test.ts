/**
 * DiskMeter against a real mount inside an instance directory (root, tmpfs). Its other
 * behaviour is unit-tested in test/unit/monitor/disk-meter.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskMeter } from '../../../src/monitor/disk-meter.js';
import { isRoot, kernelHasFilesystem, requireHost } from '../preconditions.js';

let root: string | undefined;
let mounted: string | undefined;

beforeEach(() => {
  requireHost({ 'root (to mount)': isRoot(), 'tmpfs in the kernel': kernelHasFilesystem('tmpfs') });
  root = mkdtempSync(path.join(tmpdir(), 'dea-disk-mount-'));
});

afterEach(() => {
  // Unmount before removing, so a failed test neither leaves a mount nor empties it through rm.
  if (mounted && readFileSync('/proc/self/mounts', 'utf8').includes(` ${mounted} tmpfs `)) execFileSync('umount', [mounted]);
  mounted = undefined;
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** du's answer in bytes: allocated blocks, hard links once, symlinks not followed. */
const du = (p: string) => Number(execFileSync('du', ['-s', '-B1', p], { encoding: 'utf8' }).split('\t')[0]);

describe('DiskMeter.measure', () => {
  it('does not enter a filesystem mounted inside the instance', () => {
    const dir = path.join(root!, 'instance');
    mkdirSync(path.join(dir, 'd0'), { recursive: true });
    writeFileSync(path.join(dir, 'd0', 'f0'), Buffer.alloc(1000, 1));
    const mnt = path.join(dir, 'mnt');
    mkdirSync(mnt);
    const meter = new DiskMeter();
    const before = meter.measure('a', dir, [], Date.now()).bytes;
    const mountPointBytes = statSync(mnt).blocks * 512;
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'dea-test', mnt]);
    mounted = mnt;
    writeFileSync(path.join(mnt, 'inside'), Buffer.alloc(2_000_000, 1));
    const after = meter.measure('a', dir, [], Date.now()).bytes;
    expect(after).toBe(before - mountPointBytes); // what is under the mount, and the covered directory, are not ours
    expect(du(dir)).toBeGreaterThan(after + 2_000_000); // du (without -x) would count the tmpfs
    expect(new DiskMeter().measure('b', dir, [], Date.now()).bytes).toBe(after);
  });
});

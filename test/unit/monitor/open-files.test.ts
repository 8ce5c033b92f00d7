/**
 * OpenFiles on this test's own process: files it opens, writes, deletes and replaces
 * under a temporary root, read back through /proc/self's fd links.
 */
import { closeSync, mkdtempSync, openSync, realpathSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DiskStats } from '../../../src/monitor/disk-tree.js';
import { OpenFiles } from '../../../src/monitor/open-files.js';

let root: string;
const opened: number[] = [];
const stats = (): DiskStats => ({ dirsStat: 0, dirsRead: 0, filesStat: 0, fdsRead: 0 });

beforeEach(() => {
  root = realpathSync(mkdtempSync(path.join(tmpdir(), 'dea-open-files-')));
});

afterEach(() => {
  for (const fd of opened.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // closed by the test
    }
  }
  rmSync(root, { recursive: true, force: true });
});

function open(name: string, flags: string): number {
  const fd = openSync(path.join(root, name), flags);
  opened.push(fd);
  return fd;
}

const ours = (files: ReturnType<OpenFiles['scan']>) => files.map((f) => ({ name: path.basename(f.path), size: f.st.size, deleted: f.deleted })).sort((a, b) => a.name.localeCompare(b.name));

describe('OpenFiles', () => {
  it('finds files held open for writing under the root, not those open for reading', () => {
    const w = open('log', 'a');
    writeSync(w, 'x'.repeat(100));
    open('read-only', 'w');
    closeSync(opened.pop()!);
    open('read-only', 'r');
    expect(ours(new OpenFiles().scan([process.pid], root, stats()))).toEqual([{ name: 'log', size: 100, deleted: false }]);
  });

  it('between full looks, re-stats the files it knows with one call each, and sees them grow and be deleted', () => {
    const files = new OpenFiles(4);
    const w = open('log', 'a');
    const s1 = stats();
    files.scan([process.pid], root, s1);
    expect(s1.fdsRead).toBeGreaterThan(0);
    writeSync(w, 'y'.repeat(50));
    const s2 = stats();
    expect(ours(files.scan([process.pid], root, s2))).toEqual([{ name: 'log', size: 50, deleted: false }]);
    expect(s2).toMatchObject({ fdsRead: 0, filesStat: 1 });
    unlinkSync(path.join(root, 'log'));
    writeSync(w, 'z'.repeat(10));
    expect(ours(files.scan([process.pid], root, stats()))).toEqual([{ name: 'log', size: 60, deleted: true }]);
  });

  it('sees at once a new fd, and a known fd number now naming another file', () => {
    const files = new OpenFiles(100);
    const a = open('a', 'a');
    files.scan([process.pid], root, stats());
    open('b', 'a');
    expect(ours(files.scan([process.pid], root, stats())).map((f) => f.name)).toEqual(['a', 'b']);
    closeSync(a);
    // The lowest free number: most likely the one `a` had, so the set of numbers is unchanged.
    const c = open('c', 'a');
    writeSync(c, 'c');
    expect(ours(files.scan([process.pid], root, stats()))).toEqual([
      { name: 'b', size: 0, deleted: false },
      { name: 'c', size: 1, deleted: false },
    ]);
  });

  it('sees a file opened behind the number of a closed socket or pipe-like fd at the next full look', () => {
    const files = new OpenFiles(2);
    const elsewhere = openSync(path.join(tmpdir(), `dea-open-files-other-${process.pid}`), 'w');
    try {
      files.scan([process.pid], root, stats()); // full look: the fd is not ours
      closeSync(elsewhere);
      const mine = open('mine', 'a'); // same number, unchanged set of numbers
      expect(mine).toBe(elsewhere);
      expect(ours(files.scan([process.pid], root, stats()))).toEqual([]); // not yet: a cheap look
      expect(ours(files.scan([process.pid], root, stats()))).toEqual([{ name: 'mine', size: 0, deleted: false }]);
    } finally {
      rmSync(path.join(tmpdir(), `dea-open-files-other-${process.pid}`), { force: true });
    }
  });

  it('forgets what a process that exited held', () => {
    expect(new OpenFiles().scan([2 ** 22 + 17], root, stats())).toEqual([]);
  });
});

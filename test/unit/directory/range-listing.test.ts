import { describe, expect, it } from 'vitest';
import { formatSize, listingText, type Entry } from '../../../src/directory/listing.js';
import { parseRange } from '../../../src/directory/range.js';

describe('parseRange', () => {
  it('reads a single range, open-ended or a suffix', () => {
    expect(parseRange('bytes=0-4', 10)).toEqual({ kind: 'partial', start: 0, end: 4 });
    expect(parseRange('bytes=5-', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
    expect(parseRange('bytes=-3', 10)).toEqual({ kind: 'partial', start: 7, end: 9 });
    expect(parseRange('bytes=-30', 10)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=8-100', 10)).toEqual({ kind: 'partial', start: 8, end: 9 });
  });

  it('is unsatisfiable past the end, for an empty suffix or an empty file', () => {
    expect(parseRange('bytes=10-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=10-20', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores what it does not understand: the whole file', () => {
    for (const h of [undefined, 'bytes=0-1,3-4', 'items=0-1', 'bytes=5-2', 'bytes=-', 'bytes=a-b']) {
      expect(parseRange(h, 10)).toEqual({ kind: 'full' });
    }
  });
});

describe('listing', () => {
  it('formats sizes with one decimal and a unit', () => {
    expect(formatSize(0)).toBe('0.0B');
    expect(formatSize(512)).toBe('512.0B');
    expect(formatSize(1536)).toBe('1.5K');
    expect(formatSize(20 * 1024 * 1024)).toBe('20.0M');
    expect(formatSize(3 * 1024 ** 4)).toBe('3.0T');
  });

  it('prints one line per entry: name padded to 35, size right-aligned in 10, dirs with / and -', () => {
    const entries: Entry[] = [
      { name: 'app', type: 'directory', size: 4096, mtime: 0 },
      { name: 'stdout.log', type: 'file', size: 1536, mtime: 0 },
      { name: 'x'.repeat(40), type: 'file', size: 1, mtime: 0 },
    ];
    const lines = listingText(entries).split('\n');
    expect(lines[0]).toBe(`${'app/'.padEnd(35)}${'-'.padStart(10)}`);
    expect(lines[1]).toBe(`${'stdout.log'.padEnd(35)}${'1.5K'.padStart(10)}`);
    expect(lines[2]).toBe(`${'x'.repeat(40)} ${'1.0B'.padStart(10)}`);
    expect(lines[3]).toBe('');
  });
});

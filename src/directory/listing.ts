/**
 * Directory listings (protocol §11.5): dea_ng's plain-text form, one line per entry (name,
 * directories with a trailing `/`, padded to 35; size right-aligned in 10, `-` for
 * directories), and a JSON form for scripts. Entries are read through the opened
 * descriptor, so the listing is of the directory that was checked, whatever the app
 * renamed since.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface Entry {
  readonly name: string;
  readonly type: EntryType;
  readonly size: number;
  /** Epoch milliseconds. */
  readonly mtime: number;
}

function typeOf(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

/** The entries of an opened directory, by name; links are described, never followed. */
export async function readEntries(dir: FileHandle): Promise<Entry[]> {
  const self = `/proc/self/fd/${dir.fd}`;
  const names = (await readdir(self)).sort();
  const entries: Entry[] = [];
  for (const name of names) {
    // An entry removed between readdir and lstat is simply left out.
    const st = await lstat(`${self}/${name}`).catch(() => null);
    if (st) entries.push({ name, type: typeOf(st), size: st.size, mtime: Math.round(st.mtimeMs) });
  }
  return entries;
}

const UNITS = ['B', 'K', 'M', 'G', 'T'] as const;

/** `512.0B`, `1.5K`, `20.0M`: one decimal, as the Go directory server printed sizes. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)}${UNITS[unit]}`;
}

export function listingText(entries: readonly Entry[]): string {
  return entries
    .map((e) => {
      const dir = e.type === 'directory';
      const name = dir ? `${e.name}/` : e.name;
      // At least one space, even after a name longer than the column.
      return `${name.padEnd(34)} ${(dir ? '-' : formatSize(e.size)).padStart(10)}\n`;
    })
    .join('');
}

export interface JsonListing {
  readonly path: string;
  readonly entries: readonly Entry[];
}

export function listingJson(path: string, entries: readonly Entry[]): JsonListing {
  return { path, entries };
}

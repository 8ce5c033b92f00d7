import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The snapshot file on disk (and the usage history beside it). A write is atomic and durable: a temp file, fsync, rename
 * over the old one, fsync of the directory, so a crash at any moment leaves the old
 * snapshot or the new one, never half of either.
 */
export class SnapshotStore {
  constructor(private readonly path: string) {}

  write(text: string): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }

  /** The file's text, or null when there is none. */
  read(): string | null {
    try {
      return readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /** Moves an unusable snapshot aside (kept for the operator), returns where it went. */
  setAside(nowMs: number): string {
    const to = `${this.path}.unusable-${nowMs}`;
    renameSync(this.path, to);
    return to;
  }
}

import { closeSync, openSync, readSync } from 'node:fs';

/**
 * Pseudo-files (/proc, cgroupfs) are regenerated on every read from offset 0, so one fd
 * opened once and re-read with pread(fd, buf, 0) gives fresh values at 2–8 µs a read,
 * against 12–20 µs for open+read+close and 55–85 µs for fs.promises
 * (performance-and-libraries.md A1).
 */
export class ReadBuffer {
  buf: Buffer;

  constructor(initialBytes = 4096) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Reads the whole file at offset 0 into `buf`, growing it when full; returns the length. */
  read(fd: number): number {
    for (;;) {
      const n = readSync(fd, this.buf, 0, this.buf.length, 0);
      if (n < this.buf.length) return n;
      this.buf = Buffer.allocUnsafe(this.buf.length * 2);
    }
  }

  /**
   * The file's leading decimal number, parsed from the bytes without making a string
   * (cpuacct.usage, memory.usage_in_bytes, memory.current); null if it has none.
   */
  number(fd: number): number | null {
    const n = this.read(fd);
    let v = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = this.buf[i]!;
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
    }
    return i === 0 ? null : v;
  }

  /** The file as text (latin1: the files are ASCII, and latin1 decodes byte for byte). */
  text(fd: number): string {
    const n = this.read(fd);
    return this.buf.toString('latin1', 0, n);
  }
}

/**
 * Errors that mean the process, thread or cgroup behind a kept fd is gone: ESRCH from a
 * /proc file of a dead process, ENOENT when it vanished before open, ENODEV from a
 * removed cgroup's file.
 */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ESRCH' || code === 'ENOENT' || code === 'ENODEV';
}

/** Opens a file read-only, or null if it does not exist (or its owner is gone). */
export function openOrNull(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing to release
  }
}

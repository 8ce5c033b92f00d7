import { closeSync, constants as fsc, fstatSync, ftruncateSync, lstatSync, openSync, readlinkSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const NOFOLLOW_READ = fsc.O_RDWR | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
const NOFOLLOW_CREATE = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW;
const CHUNK = 1 << 20;

/** Opens a log for appending; O_NOFOLLOW: a droplet cannot turn it into a link elsewhere. */
export function openAppLog(path: string): number {
  return openSync(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o640);
}

/**
 * Caps an instance's stdout/stderr: when a log passes `maxBytes`, its content moves to
 * `<name>.1` (replacing the older one) and the live file is truncated in place. The app
 * keeps writing through its O_APPEND descriptor, so rotation needs no restart and no help
 * from the app, and logs keep flowing while the agent is down.
 *
 * The log directory belongs to the app's user, who could swap a path for a link between
 * our check and our open; so every decision is made on the opened file: its real path,
 * read back from /proc/self/fd, must be the one we meant, or we leave it alone.
 */
const LOG_NAMES = ['stdout.log', 'stderr.log'] as const;

export function rotateLogs(instanceDir: string, maxBytes: number): string[] {
  const rotated: string[] = [];
  // Every instance, every monitor interval: a concatenation, not a normalizing join
  // (instance directories come normalized from the layout).
  for (const name of LOG_NAMES) {
    if (rotateOne(`${instanceDir}/logs/${name}`, maxBytes)) rotated.push(name);
  }
  return rotated;
}

/** Appends an agent line (a quota breach, say) to an instance log, on the same terms. */
export function appendLogLine(instanceDir: string, name: 'stdout.log' | 'stderr.log', line: string): boolean {
  const fd = openExactly(join(instanceDir, 'logs', name), fsc.O_WRONLY | fsc.O_APPEND | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  if (fd === null) return false;
  try {
    writeSync(fd, line.endsWith('\n') ? line : `${line}\n`);
    return true;
  } finally {
    closeSync(fd);
  }
}

function rotateOne(path: string, maxBytes: number): boolean {
  // This runs for every instance on every monitor interval: one lstat settles the common
  // case (under the cap); only a log that looks due is opened and checked for real.
  if (!looksDue(path, maxBytes)) return false;
  const fd = openExactly(path, NOFOLLOW_READ);
  if (fd === null) return false;
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size <= maxBytes) return false;
    const out = openExactly(`${path}.1`, NOFOLLOW_CREATE, 0o640);
    if (out === null) return false;
    try {
      copyAll(fd, out);
    } finally {
      closeSync(out);
    }
    ftruncateSync(fd, 0);
    return true;
  } finally {
    closeSync(fd);
  }
}

function looksDue(path: string, maxBytes: number): boolean {
  try {
    return (lstatSync(path, { throwIfNoEntry: false })?.size ?? 0) > maxBytes;
  } catch {
    return false;
  }
}

function openExactly(path: string, flags: number, mode?: number): number | null {
  let fd: number;
  try {
    fd = openSync(path, flags, mode);
  } catch {
    return null;
  }
  try {
    if (readlinkSync(`/proc/self/fd/${fd}`) === path) return fd;
  } catch {
    // fall through: not verifiable, not touched
  }
  closeSync(fd);
  return null;
}

function copyAll(from: number, to: number): void {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  for (;;) {
    const n = readSync(from, buf, 0, CHUNK, pos);
    if (n === 0) return;
    writeSync(to, buf, 0, n);
    pos += n;
  }
}

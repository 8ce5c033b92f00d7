/**
 * `?tail` (protocol §11.5): streams what is appended to a file, from its end (or from
 * `tail_offset`), until the client goes away, the server closes, or the instance stops
 * being served. The agent rotates logs by copying them aside and truncating in place,
 * and the app may write again before the next poll, so a truncation is noticed two ways:
 * the file is shorter than what was sent, or the last bytes sent are no longer where they
 * were. Either way the file is read again from its start. A file replaced under the same
 * name is reopened (through the same checks) and read from its start.
 */
import type { ServerResponse } from 'node:http';
import { lstat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { pauseUnlessAborted } from '../platform/clock.js';

/** dea_ng's Go server flushed tails every 50 ms. */
export const TAIL_POLL_MS = 50;
const CHUNK = 64 * 1024;
/** How many of the last bytes sent are checked, each poll, to be still in place. */
const MARK = 64;

export interface TailTarget {
  readonly handle: FileHandle;
  readonly stat: Stats;
  readonly path: string;
}

export interface TailOptions {
  /** Where to start, in bytes from the start of the file; null: at its current end. */
  readonly offset: number | null;
  readonly signal: AbortSignal;
  /** Checked every poll: false ends the stream (the instance stopped, say). */
  readonly stillServed: () => boolean;
  /** Opens `path` again with every check, after it was replaced; null if it cannot be. */
  readonly reopen: () => Promise<TailTarget | null>;
  readonly pollMs?: number;
}


/** Resolves when `res` can take more, or the signal ends the wait. */
function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Another file now has this name (inode or device changed): it is the one to follow. */
async function replaced(current: Stats, path: string): Promise<boolean> {
  const now = await lstat(path).catch(() => null);
  return now !== null && (now.ino !== current.ino || now.dev !== current.dev);
}

/** Why a tail ended: the signal (client gone, server closing), or the instance. */
export type TailEnd = 'aborted' | 'not-served';

export async function tailFile(res: ServerResponse, first: TailTarget, opts: TailOptions): Promise<TailEnd> {
  let target = first;
  const start = opts.offset === null ? first.stat.size : Math.min(opts.offset, first.stat.size);
  // `mark`: the bytes just before `pos` (what was sent last, or what precedes the offset).
  const at: Position = { pos: start, mark: await readMark(first.handle, start) };
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.flushHeaders();
  try {
    while (!opts.signal.aborted) {
      const st = await sendAppended(res, target.handle, at, opts.signal);
      // What was written up to now is sent before giving up on an instance that stopped.
      if (!opts.stillServed()) return 'not-served';
      const next = (await replaced(st, target.path)) ? await opts.reopen() : null;
      if (next !== null) {
        await target.handle.close();
        target = next;
        at.pos = 0;
        at.mark = Buffer.alloc(0);
        continue;
      }
      await pauseUnlessAborted(opts.pollMs ?? TAIL_POLL_MS, opts.signal);
    }
    return 'aborted';
  } finally {
    await target.handle.close().catch(() => undefined);
    res.end();
  }
}

interface Position {
  pos: number;
  mark: Buffer;
}

function restart(at: Position): void {
  at.pos = 0;
  at.mark = Buffer.alloc(0);
}

/**
 * Sends what the file holds past `at`, and returns the stat it went by. Each chunk is
 * checked after it is read: if the bytes before it moved meanwhile, the file was truncated
 * under the read and the chunk may be the new content's middle, so it is dropped and the
 * file read again from its start.
 */
async function sendAppended(res: ServerResponse, handle: FileHandle, at: Position, signal: AbortSignal): Promise<Stats> {
  const st = await handle.stat();
  if (st.size < at.pos || !(await markInPlace(handle, at.mark, at.pos))) restart(at);
  const buf = Buffer.allocUnsafe(CHUNK);
  while (at.pos < st.size && !signal.aborted) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, st.size - at.pos), at.pos);
    if (bytesRead === 0) break;
    if (!(await markInPlace(handle, at.mark, at.pos))) {
      restart(at);
      break;
    }
    const chunk = Buffer.from(buf.subarray(0, bytesRead));
    at.pos += bytesRead;
    at.mark = Buffer.concat([at.mark, chunk]).subarray(-MARK);
    if (!res.write(chunk)) await drained(res, signal);
  }
  return st;
}

async function readMark(handle: FileHandle, pos: number): Promise<Buffer> {
  const len = Math.min(MARK, pos);
  const out = Buffer.alloc(len);
  const { bytesRead } = await handle.read(out, 0, len, pos - len);
  return out.subarray(0, bytesRead);
}

/** Whether the bytes before `pos` are still `mark`: if not, the file was truncated and rewritten. */
async function markInPlace(handle: FileHandle, mark: Buffer, pos: number): Promise<boolean> {
  if (mark.length === 0 || pos < mark.length) return true;
  return (await readMark(handle, pos)).equals(mark);
}

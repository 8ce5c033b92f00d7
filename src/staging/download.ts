import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { AgentError } from '../errors.js';
import { downloadError } from './download-error.js';
import { openSource } from './droplet-sources.js';
import { sha1Meter } from './sha1.js';
import { Watchdog } from './watchdog.js';

export interface DownloadOptions {
  readonly signal: AbortSignal;
  /** Fails when no bytes arrive for this long. */
  readonly inactivityMs: number;
  /** Fails past this size; a file:// URI may name an endless source. */
  readonly maxBytes: number;
}

/**
 * Streams `uri` into the new file `dest` (0600, never an existing one) while hashing.
 * An abort of `signal` rejects with its reason; every other failure is a download error.
 * `dest` may be left half-written: the caller owns it.
 */
export async function downloadTo(uri: string, dest: string, opts: DownloadOptions): Promise<{ sha1: string; bytes: number }> {
  const { signal } = opts;
  const watchdog = new Watchdog(opts.inactivityMs);
  const both = AbortSignal.any([signal, watchdog.signal]);
  const meter = sha1Meter(opts.maxBytes, () => watchdog.touch());
  try {
    const source = await openSource(uri, both);
    watchdog.touch();
    await pipeline(source, meter.stream, createWriteStream(dest, { flags: 'wx', mode: 0o600, flush: true }), { signal: both });
    return meter.result();
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (watchdog.signal.aborted) throw downloadError(uri, `timeout: ${(watchdog.signal.reason as Error).message}`);
    if (err instanceof AgentError) throw err;
    throw downloadError(uri, `Response status: unknown, Error: ${err instanceof Error ? err.message : String(err)}`, err);
  } finally {
    watchdog.stop();
  }
}

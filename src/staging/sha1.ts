import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { AgentError, ErrorCodes } from '../errors.js';
import { scrubUri } from './download-error.js';

const SHA1_RE = /^[0-9a-f]{40}$/;

/** 40 lowercase hex digits: the only SHA-1 the agent ever builds a path from. */
export function isValidSha1(value: unknown): value is string {
  return typeof value === 'string' && SHA1_RE.test(value);
}

export interface Sha1Meter {
  /** Pass-through: hashes what flows and fails once more than `maxBytes` went by. */
  readonly stream: Transform;
  /** After the stream ended: the SHA-1 of everything that went through, and its size. */
  result(): { sha1: string; bytes: number };
}

/** Hashes while streaming, so a droplet is never held in memory; `onChunk` sees progress. */
export function sha1Meter(maxBytes: number, onChunk: () => void): Sha1Meter {
  const hash = createHash('sha1');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onChunk();
      bytes += chunk.length;
      if (bytes > maxBytes) return done(new Error(`droplet larger than ${maxBytes} bytes`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ sha1: hash.digest('hex'), bytes }) };
}

/** Refuses a download whose SHA-1 is not the one the controller named. */
export function verifySha1(expected: string | null, actual: string, uri: string): void {
  if (expected === null || actual === expected) return;
  throw new AgentError(ErrorCodes.DROPLET_SHA1_MISMATCH, `Error downloading: ${scrubUri(uri)}: SHA1 mismatch (expected ${expected}, actual ${actual})`);
}

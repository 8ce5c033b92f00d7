import { lstatSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * How an instance's disk can be measured more cheaply than by walking its directory
 * (the instance directories say, see staging): `baseBytes` (what never changes, the
 * droplet's tree below an overlay) plus either the used blocks of the instance's own
 * filesystem (`statfs`: a loop disk) or a walk of `walk` (its writable layer), where the
 * files its processes hold open for writing, seen by them under one of `seenAs`, are
 * the same files below `walk`.
 */
export type DiskSource =
  | { readonly kind: 'statfs'; readonly path: string; readonly baseBytes: number }
  | { readonly kind: 'walk'; readonly walk: string; readonly seenAs: readonly string[]; readonly baseBytes: number };

/**
 * Bytes in use on the filesystem mounted at `path` (one statfs), or null when nothing is
 * mounted there (statfs would then describe the parent's filesystem) or it cannot be read.
 */
export function statfsUsedBytes(path: string): number | null {
  try {
    if (lstatSync(path).dev === lstatSync(dirname(path)).dev) return null;
    const s = statfsSync(path);
    return (s.blocks - s.bfree) * s.bsize;
  } catch {
    return null;
  }
}

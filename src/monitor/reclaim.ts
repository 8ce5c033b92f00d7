/**
 * Whom to kill when the elastic pool runs short (Gaia's kill policy; docs/containers.md): the
 * instance furthest above its guarantee, ties going to the youngest. An instance within
 * its guarantee is never chosen, whatever the others use. Pure.
 */

const MIB = 1024 * 1024;

export interface ReclaimCandidate {
  readonly instanceId: string;
  /** Its memory quota, which elastic memory guarantees (bytes). */
  readonly guaranteeBytes: number;
  /** What it uses now (bytes). */
  readonly usedBytes: number;
  /** When it started (ms): the younger of two equals goes first. */
  readonly startedAtMs: number;
}

/** The instance to reclaim, or null when every one is within its guarantee. */
export function chooseVictim(candidates: readonly ReclaimCandidate[]): ReclaimCandidate | null {
  let victim: ReclaimCandidate | null = null;
  for (const c of candidates) {
    const over = c.usedBytes - c.guaranteeBytes;
    if (over <= 0) continue;
    if (victim === null) {
      victim = c;
      continue;
    }
    const best = victim.usedBytes - victim.guaranteeBytes;
    if (over > best || (over === best && c.startedAtMs > victim.startedAtMs)) victim = c;
  }
  return victim;
}

/** The exit_description (and stderr.log line) of a reclaimed instance. */
export function reclaimDescription(c: ReclaimCandidate): string {
  return `out of memory: reclaimed for other instances (used ${mb(c.usedBytes)} MB of a ${mb(c.guaranteeBytes)} MB guarantee)`;
}

function mb(bytes: number): number {
  return Math.round(bytes / MIB);
}

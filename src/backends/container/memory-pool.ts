/**
 * Puts a memory policy into the cgroup root of the instances, once at backend start:
 * `elastic` makes it a pool (elastic-pool.ts), `hard` undoes a pool an earlier agent
 * made, so switching policy takes an agent restart and nothing else. Also opens the
 * probe that says when the pool runs short.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupHost } from './cgroup-host.js';
import { V2_HIGH_FRACTION, v1PoolWrites, v2PoolWrites } from './elastic-pool.js';
import { v1PoolProbe, v2PoolProbe, type PoolProbe } from './pool-pressure.js';

/** Where the pool's memory files are: the v1 memory hierarchy, else the unified one. */
function poolDir(host: CgroupHost, root: string): { dir: string; v1: boolean } | null {
  const memory = host.v1.get('memory');
  if (memory !== undefined) return { dir: join(memory, root), v1: true };
  if (host.unified !== null && host.v2Controllers.has('memory')) return { dir: join(host.unified, root), v1: false };
  return null;
}

/** `pool` bytes for elastic, null for hard. The root must exist (prepareCgroupRoot). */
export function applyMemoryPolicy(host: CgroupHost, root: string, pool: number | null): void {
  const at = poolDir(host, root);
  if (at === null) return;
  const writes = at.v1 ? v1PoolWrites(pool, host.hasMemsw) : v2PoolWrites(pool);
  for (const [file, value] of writes) writeFileSync(join(at.dir, file), value);
}

/** The probe of an elastic pool of `pool` bytes. */
export function openPoolProbe(host: CgroupHost, root: string, pool: number): PoolProbe | null {
  const at = poolDir(host, root);
  if (at === null) return null;
  return at.v1 ? v1PoolProbe(at.dir) : v2PoolProbe(at.dir, Math.floor(pool * V2_HIGH_FRACTION));
}

export interface MemorySetup {
  readonly policy: 'hard' | 'elastic';
  /** The pool's hard limit (elastic): see elastic-pool.ts poolBytes. */
  readonly poolBytes: number;
  readonly maxFactor: number;
}

/**
 * Puts the policy into the root (an elastic pool, or a hard root undone) and, for
 * elastic, opens the probe that says when the pool runs short.
 */
export function setUpMemoryPolicy(host: CgroupHost, root: string, m: MemorySetup): PoolProbe | null {
  applyMemoryPolicy(host, root, m.policy === 'elastic' ? m.poolBytes : null);
  return m.policy === 'elastic' ? openPoolProbe(host, root, m.poolBytes) : null;
}

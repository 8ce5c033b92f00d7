import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../platform/clock.js';
import { isSameProcess } from '../process/proc-tree.js';
import type { CgroupHost } from './cgroup-host.js';
import { InstanceCgroups } from './cgroups.js';
import type { UidPool } from './uid-pool.js';

export interface SweepParts {
  readonly runDir: string;
  readonly host: CgroupHost;
  readonly cgroupRoot: string;
  readonly uids: UidPool;
  readonly clock: Clock;
}

export interface SweepResult {
  /** Containers an earlier agent left that have ended: their groups, records and uids are gone. */
  readonly removed: string[];
  /** Containers still running (their supervisor, or a process in their groups, lives). */
  readonly running: string[];
}

const ID = /^[0-9a-f]{32}$/;

/**
 * What earlier agents left of containers that have ended: at start, before any launch,
 * their groups, supervisor records and uids are released, so agent restarts leak
 * nothing. A container that still runs is left alone (it outlives its agent by design),
 * as is any instance in `keep` (one the agent adopts).
 */
export async function sweepEndedContainers(p: SweepParts, keep: ReadonlySet<string>): Promise<SweepResult> {
  const removed: string[] = [];
  const running: string[] = [];
  const owned = new Set<number>();
  for (const id of entries(p.runDir)) {
    const handle = readHandle(join(p.runDir, id));
    if (handle === null || handle.kind !== 'container') continue;
    const cgroups = InstanceCgroups.locate(p.host, p.cgroupRoot, id, p.clock);
    const supervisorLives = isSameProcess(Number(handle.supervisorPid), handle.supervisorStart === null ? null : Number(handle.supervisorStart));
    if (keep.has(id) || supervisorLives || cgroups.pids().length > 0) {
      owned.add(Number(handle.uid));
      running.push(id);
      continue;
    }
    await cgroups.remove();
    await rm(join(p.runDir, id), { recursive: true, force: true });
    await p.uids.release(Number(handle.uid));
    removed.push(id);
  }
  // Groups and uids whose record is gone (an agent killed between making them and writing
  // the record down): nothing can run in a group with no processes.
  const recorded = new Set(entries(p.runDir));
  for (const id of groupNames(p.host, p.cgroupRoot)) {
    if (recorded.has(id) || keep.has(id)) continue;
    const cgroups = InstanceCgroups.locate(p.host, p.cgroupRoot, id, p.clock);
    if (cgroups.pids().length > 0) continue;
    await cgroups.remove();
    removed.push(id);
  }
  for (const uid of await p.uids.taken()) if (!owned.has(uid)) await p.uids.release(uid);
  return { removed, running };
}

/** Instance groups under the root, from one hierarchy (every hierarchy holds the same names). */
function groupNames(host: CgroupHost, root: string): string[] {
  const mount = host.v1.get('memory') ?? host.v1.get('pids') ?? host.unified;
  return mount === null || mount === undefined ? [] : entries(join(mount, root));
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => ID.test(n));
  } catch {
    return [];
  }
}

function readHandle(dir: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'handle.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

import { readdirSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, type Clock } from '../../platform/clock.js';
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
  /** Containers an earlier agent left that had ended: their groups, records and uids are gone. */
  readonly removed: string[];
  /** Containers still running that no snapshot entry explains: killed, then removed. */
  readonly killed: string[];
  /** Containers an adopted instance uses (`keep`): left as they are. */
  readonly kept: string[];
}

const ID = /^[0-9a-f]{32}$/;
const POLL_MS = 20;
const SUPERVISOR_GONE_MS = 5_000;

/**
 * What earlier agents left of containers that no adopted instance explains (`keep`, by
 * instance id), at start after adoption: a container that ended is released (groups,
 * supervisor record, uid); one that still runs is killed first, since no snapshot says
 * what it is (an agent killed between launching it and writing it down). Groups without
 * any record and with no process go too. Agent restarts leak nothing.
 */
export async function sweepEndedContainers(p: SweepParts, keep: ReadonlySet<string>): Promise<SweepResult> {
  const result: SweepResult = { removed: [], killed: [], kept: [] };
  const owned = new Set<number>();
  for (const id of entries(p.runDir)) {
    const handle = readHandle(join(p.runDir, id));
    if (handle === null || handle.kind !== 'container') continue;
    if (keep.has(id)) {
      owned.add(Number(handle.uid));
      result.kept.push(id);
      continue;
    }
    const cgroups = InstanceCgroups.locate(p.host, p.cgroupRoot, id, p.clock);
    const supervisor = { pid: Number(handle.supervisorPid), start: handle.supervisorStart === null ? null : Number(handle.supervisorStart) };
    if (isSameProcess(supervisor.pid, supervisor.start) || cgroups.pids().length > 0) {
      await cgroups.killAll();
      // Its supervisor records the exit in the run dir: let it finish before removing it.
      for (let waited = 0; isSameProcess(supervisor.pid, supervisor.start) && waited < SUPERVISOR_GONE_MS; waited += POLL_MS) await sleep(p.clock, POLL_MS);
      result.killed.push(id);
    } else {
      result.removed.push(id);
    }
    await cgroups.remove();
    await rm(join(p.runDir, id), { recursive: true, force: true });
    await p.uids.release(Number(handle.uid));
  }
  // Groups and uids whose record is gone (an agent killed between making them and writing
  // the record down): nothing can run in a group with no processes.
  const recorded = new Set(entries(p.runDir));
  for (const id of groupNames(p.host, p.cgroupRoot)) {
    if (recorded.has(id) || keep.has(id)) continue;
    const cgroups = InstanceCgroups.locate(p.host, p.cgroupRoot, id, p.clock);
    if (cgroups.pids().length > 0) continue;
    await cgroups.remove();
    result.removed.push(id);
  }
  for (const uid of await p.uids.taken()) if (!owned.has(uid)) await p.uids.release(uid);
  return result;
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

import { existsSync, readFileSync } from 'node:fs';
import { detectCgroups, type CgroupLayout, type CgroupMounts } from '../../monitor/cgroup-reader.js';
import { V1_CONTROLLERS, type V1Controller } from './cgroup-limits.js';

/**
 * Where this host's cgroups are and which of them the container backend uses:
 * - v1 (and the v1 side of a hybrid host): one hierarchy per controller in
 *   V1_CONTROLLERS; co-mounted controllers (cpu,cpuacct) share one directory;
 * - v2: the unified hierarchy, with the controllers its root offers. On a hybrid host
 *   (v1 controllers, cgroup2 holding none of them) the unified group is still made: its
 *   cgroup.kill ends every process at once and cgroup.events says when none is left.
 */
export interface CgroupHost {
  readonly layout: CgroupLayout;
  /** v1 controller → its hierarchy's mount point. */
  readonly v1: ReadonlyMap<V1Controller, string>;
  /** The unified hierarchy's mount point, or null. */
  readonly unified: string | null;
  /** Controllers of the unified hierarchy that are not taken by v1. */
  readonly v2Controllers: ReadonlySet<string>;
  /** Whether v1 memory has memsw (swap accounting). */
  readonly hasMemsw: boolean;
}

export function cgroupHostFrom(mounts: CgroupMounts, exists = existsSync, read = readText): CgroupHost {
  const v1 = new Map<V1Controller, string>();
  for (const c of V1_CONTROLLERS) {
    const mount = mounts.v1.get(c);
    if (mount !== undefined) v1.set(c, mount);
  }
  const unified = mounts.v2;
  const offered = unified === null ? [] : (read(`${unified}/cgroup.controllers`) ?? '').split(/\s+/).filter(Boolean);
  const v2Controllers = new Set(offered.filter((c) => !v1.has(c as V1Controller)));
  const memory = v1.get('memory');
  const hasMemsw = memory !== undefined && exists(`${memory}/memory.memsw.limit_in_bytes`);
  return { layout: mounts.layout, v1, unified, v2Controllers, hasMemsw };
}

export function detectCgroupHost(): CgroupHost {
  return cgroupHostFrom(detectCgroups());
}

/**
 * Whether an instance can be limited here: memory, CPU and pids must come from one
 * version or the other, and the kill must reach every process (freezer or cgroup.kill).
 */
export function containerCapable(host: CgroupHost): { ok: true } | { ok: false; why: string } {
  for (const c of ['memory', 'cpu', 'pids'] as const) {
    if (!host.v1.has(c) && !host.v2Controllers.has(c)) return { ok: false, why: `no ${c} controller` };
  }
  if (!host.v1.has('freezer') && host.unified === null) return { ok: false, why: 'neither a v1 freezer nor cgroup2' };
  return { ok: true };
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

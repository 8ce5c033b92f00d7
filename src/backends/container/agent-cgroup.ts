/**
 * The agent's own CPU group, beside the instances' root: `<root>-agent` with
 * `resources.reserved_cpu_shares` (docs/containers.md). The kernel shares CPU between sibling
 * groups by their shares, so however many instances burn CPU in the root, the agent's
 * group keeps its part for heartbeats, the monitor tick and stops. Its helpers (the
 * container supervisors) start in it too; each container's init then moves into its
 * instance's groups before the app runs.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupHost } from './cgroup-host.js';
import { sharesToWeight } from './cgroup-limits.js';

export interface AgentCgroup {
  /** Where the group is (for the operator and tests). */
  readonly dir: string;
  /** Moves the agent back where it was and removes the group if nothing else is in it. */
  leave(): void;
}

export function agentCgroupName(root: string): string {
  return `${root}-agent`;
}

/** Moves process `pid` (the agent) into its own CPU group; null where there is no CPU controller. */
export function joinAgentCgroup(host: CgroupHost, root: string, shares: number, pid = process.pid): AgentCgroup | null {
  const cpu = host.v1.get('cpu');
  const v2 = cpu === undefined && host.unified !== null && host.v2Controllers.has('cpu');
  const mount = cpu ?? (v2 ? host.unified : null);
  if (mount === null) return null;
  const before = currentGroup(pid, v2 ? null : 'cpu');
  const dir = join(mount, agentCgroupName(root));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, v2 ? 'cpu.weight' : 'cpu.shares'), String(v2 ? sharesToWeight(shares) : shares));
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  return {
    dir,
    leave() {
      if (before !== null) {
        try {
          writeFileSync(join(mount, before, 'cgroup.procs'), String(pid));
        } catch {
          return; // the old group is gone: stay, and keep ours
        }
      }
      try {
        rmdirSync(dir);
      } catch {
        // supervisors of instances still running are in it: it stays for the next agent
      }
    },
  };
}

/** The process's group in the hierarchy of `controller` (v2: the unified one), from /proc. */
function currentGroup(pid: number, controller: string | null): string | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    const names = (controllers ?? '').split(',');
    if (controller === null ? controllers === '' : names.includes(controller)) return path;
  }
  return null;
}

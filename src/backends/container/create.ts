import { readFileSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { containerCapable, detectCgroupHost, type CgroupHost } from './cgroup-host.js';
import { prepareCgroupRoot } from './cgroups.js';
import { joinAgentCgroup } from './agent-cgroup.js';
import { setUpMemoryPolicy, type MemorySetup } from './memory-pool.js';
import { PoolPressure, type PoolProbe } from './pool-pressure.js';
import { ContainerBackend } from './container-backend.js';
import { passwdUids, UidPool } from './uid-pool.js';
import { createNetworks, type NetworkSetup, type HostPortPool } from '../../network/index.js';

/** Warden's pool began at 10000; ours sits clear of the usual local accounts. */
export const UID_POOL_START = 40_000;
export const UID_POOL_SIZE = 4096;

export interface ContainerSetup {
  readonly baseDir: string;
  /** Where supervisor records go (hidden from apps with the rest of base_dir). */
  readonly runDir: string;
  readonly uidDir: string;
  readonly libexecDir: string;
  readonly cgroupRoot: string;
  readonly lxcfsDir: string;
  readonly defaultRootfs: string;
  readonly appGroup: number | null;
  /** The per-instance uids: [start, start + size). */
  readonly uidPool?: { readonly start: number; readonly size: number };
  /** Networks of their own for the instances (docs/network.md); absent: they share the host's. */
  readonly network?: Omit<NetworkSetup, 'baseDir' | 'logger'>;
  /** The memory policy (docs/containers.md); absent: hard limits. */
  readonly memory?: MemorySetup;
  /** resources.reserved_cpu_shares: the agent's own CPU group; absent: the agent stays where it is. */
  readonly agentCpuShares?: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export type ContainerChoice =
  | { ok: true; backend: ContainerBackend; host: CgroupHost; hostPorts: HostPortPool | null }
  | { ok: false; why: string };

/**
 * The container backend, if this host can run it: root, cgroups with memory, CPU and
 * pids, and a writable cgroup root in every hierarchy. Says why not otherwise.
 */
export async function createContainerBackend(s: ContainerSetup): Promise<ContainerChoice> {
  if (process.getuid?.() !== 0) return { ok: false, why: 'the agent is not root' };
  const host = detectCgroupHost();
  const capable = containerCapable(host);
  if (!capable.ok) return capable;
  try {
    await prepareCgroupRoot(host, s.cgroupRoot);
  } catch (err) {
    return { ok: false, why: `cgroups are not writable: ${(err as Error).message}` };
  }
  const memory = s.memory ?? { policy: 'hard', poolBytes: 0, maxFactor: 1 };
  let probe: PoolProbe | null;
  try {
    probe = setUpMemoryPolicy(host, s.cgroupRoot, memory);
  } catch (err) {
    return { ok: false, why: `the ${memory.policy} memory policy cannot be set: ${(err as Error).message}` };
  }
  if (memory.policy === 'elastic') s.logger.info({ event: 'backend.memory.elastic', pool_bytes: memory.poolBytes, max_factor: memory.maxFactor }, `elastic memory: a pool of ${Math.round(memory.poolBytes / 1048576)} MB`);
  const agentCgroup = s.agentCpuShares === undefined ? null : joinAgentCgroup(host, s.cgroupRoot, s.agentCpuShares);
  const pool = s.uidPool ?? { start: UID_POOL_START, size: UID_POOL_SIZE };
  const uids = new UidPool({ dir: s.uidDir, ...pool, reserved: passwdUids() });
  await uids.init();
  const lxcfs = lxcfsMounted(s.lxcfsDir);
  s.logger.info({ event: 'backend.cgroups', layout: host.layout, v1: [...host.v1.keys()], unified: host.unified, v2_controllers: [...host.v2Controllers] }, `cgroups: ${host.layout}`);
  if (!lxcfs) s.logger.info({ event: 'backend.lxcfs.absent', dir: s.lxcfsDir }, 'LXCFS is not mounted there: apps see the host /proc/meminfo');
  const net = s.network ? await createNetworks({ ...s.network, baseDir: s.baseDir, logger: s.logger }) : null;
  const backend = new ContainerBackend({
    runDir: s.runDir,
    helper: join(s.libexecDir, 'container', 'dea-container'),
    startScript: readFileSync(join(s.libexecDir, 'start.sh'), 'utf8'),
    host,
    cgroupRoot: s.cgroupRoot,
    defaultRootfs: s.defaultRootfs,
    lxcfsDir: lxcfs ? s.lxcfsDir : null,
    masks: hidden(s.defaultRootfs, s.baseDir),
    uids,
    appGroup: s.appGroup,
    network: net?.networks ?? null,
    hostPorts: net?.ports ?? null,
    memory,
    pressure: probe ? new PoolPressure(probe, s.clock) : null,
    agentCgroup,
    clock: s.clock,
    logger: s.logger,
  });
  return { ok: true, backend, host, hostPorts: net?.ports ?? null };
}

/** Whether an LXCFS (a fuse.lxcfs mount) is mounted at `dir`. */
export function lxcfsMounted(dir: string, mountinfo = readMountinfo()): boolean {
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (sep > 0 && f[4] === dir && f[sep + 1] === 'fuse.lxcfs') return true;
  }
  return false;
}

/** base_dir as the container sees it, when the rootfs holds it (a rootfs of `/` does). */
export function hidden(rootfs: string, baseDir: string): string[] {
  const rel = relative(rootfs, baseDir);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return [];
  return [`/${rel}`];
}

function readMountinfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}

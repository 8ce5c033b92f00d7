import { lchown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import { AgentError, ErrorCodes } from '../../errors.js';
import { startTimeTicks } from '../process/proc-tree.js';
import type { Backend, BackendHandle, InstanceProcess, LaunchSpec } from '../types.js';
import type { CgroupHost } from './cgroup-host.js';
import type { CgroupLimits } from './cgroup-limits.js';
import { elasticLimits } from './elastic-pool.js';
import type { MemorySetup } from './memory-pool.js';
import type { PoolPressure } from './pool-pressure.js';
import type { AgentCgroup } from './agent-cgroup.js';
import { InstanceCgroups, removeCgroupRoot } from './cgroups.js';
import { ContainerProcess, type ContainerParts } from './container-process.js';
import { launchContainer, type ContainerArgs, type Launched } from './launcher.js';
import type { InstanceNetworks, NetRecord } from '../../network/instance-network.js';
import type { HostPortPool } from '../../network/port-pool.js';
import { writeNetworkFiles } from './network-files.js';
import { NetworkStart } from './network-start.js';
import { sweepEndedContainers } from './sweep.js';
import type { UidPool } from './uid-pool.js';

export interface ContainerBackendOptions {
  /** Per-instance supervisor records (agent-owned; hidden from every container). */
  readonly runDir: string;
  /** libexec/container/dea-container */
  readonly helper: string;
  /** The v2 start script's text (libexec/start.sh), run by bash inside the container. */
  readonly startScript: string;
  readonly host: CgroupHost;
  /** The directory under each hierarchy that holds the instances' groups. */
  readonly cgroupRoot: string;
  /** The root filesystem for a spec that names none (the first stack's package_path). */
  readonly defaultRootfs: string;
  /** An LXCFS mount to bind /proc files from, or null. */
  readonly lxcfsDir: string | null;
  /** Paths in the root filesystem no app may see (the agent's base_dir). */
  readonly masks: readonly string[];
  readonly uids: UidPool;
  /** A group every app joins: the group that owns the unpacked droplet trees. */
  readonly appGroup: number | null;
  /** Each instance's own network namespace, addresses, rules and shaping; null: the host's network. */
  readonly network?: InstanceNetworks | null;
  /** The host ports the lifecycle maps to apps (the network's port pool), with `network`. */
  readonly hostPorts?: HostPortPool | null;
  /** The memory policy (docs/containers.md, elastic memory); absent: hard limits. */
  readonly memory?: MemorySetup;
  /** Elastic memory: what says when the pool runs short. */
  readonly pressure?: PoolPressure | null;
  /** The agent's own CPU group, left at close(). */
  readonly agentCgroup?: AgentCgroup | null;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * The Warden way: a cgroup per instance in every hierarchy, own PID, mount, UTS and IPC
 * namespaces, the stack's rootfs read-only, the instance directory at /home/vcap, a uid
 * of its own. The work of making the container is done by a small C supervisor
 * (libexec/container), one process start per instance.
 */
export class ContainerBackend implements Backend {
  readonly kind = 'container' as const;
  readonly instanceRoot = '/home/vcap';

  readonly appPort: number | null;
  readonly hostPorts: HostPortPool | null;

  constructor(private readonly opts: ContainerBackendOptions) {
    this.appPort = opts.network?.appPort ?? null;
    this.hostPorts = opts.hostPorts ?? null;
  }

  async launch(spec: LaunchSpec): Promise<InstanceProcess> {
    await checkRootfs(spec.rootfs ?? this.opts.defaultRootfs);
    const uid = await this.opts.uids.acquire();
    if (uid === null) throw failed('no free uid for the container (the uid pool is exhausted)');
    const release = () => this.opts.uids.release(uid);
    let cgroups: InstanceCgroups;
    try {
      cgroups = await InstanceCgroups.create(this.opts.host, this.opts.cgroupRoot, spec.instanceId, limitsOf(spec, this.opts.memory), this.opts.clock);
    } catch (err) {
      await release();
      throw failed(`cannot create the container's cgroups: ${reason(err)}`, err);
    }
    const runDir = join(this.opts.runDir, spec.instanceId);
    let net: NetRecord | null = null;
    try {
      net = await this.prepareNetwork(spec);
      return await this.start(spec, uid, cgroups, runDir, net, release);
    } catch (err) {
      // Each step on its own: a clean-up that fails must not hide why the start failed.
      await cgroups.killAll().catch(() => undefined);
      if (net !== null) await this.opts.network?.remove(net).catch(() => undefined);
      await cgroups.remove().catch(() => undefined);
      await rm(runDir, { recursive: true, force: true }).catch(() => undefined);
      await release().catch(() => undefined);
      throw err instanceof AgentError && err.code === ErrorCodes.BACKEND_FAILED ? err : failed(`cannot start the container: ${reason(err)}`, err);
    }
  }

  /** What the supervisor joins and, when the instance ends, removes of its network. */
  private supervisorNet(spec: LaunchSpec, net: NetRecord | null, files: { hosts: string; resolv: string } | null): ContainerArgs['net'] {
    const network = this.opts.network;
    if (!network || net === null || files === null || !spec.network) return undefined;
    return { ...network.endsWithInstance(net, spec.network.hostPort), ...files };
  }

  /** The namespace the supervisor joins, when instances get networks of their own. */
  private async prepareNetwork(spec: LaunchSpec): Promise<NetRecord | null> {
    const network = this.opts.network;
    if (!network || !spec.network) return null;
    return network.prepare(spec.instanceId);
  }

  async recover(handle: BackendHandle): Promise<InstanceProcess | null> {
    const runDir = String(handle.runDir);
    const uid = Number(handle.uid);
    const cgroups = InstanceCgroups.locate(this.opts.host, this.opts.cgroupRoot, String(handle.cgroup), this.opts.clock);
    const net = this.recoverNetwork(handle);
    this.adoptMemoryPolicy(cgroups, handle);
    const parts: ContainerParts = { handle, runDir, cgroups, clock: this.opts.clock, hostIf: net?.links.hostIf ?? null, release: this.releaser(uid, net) };
    const start = handle.supervisorStart === null ? null : Number(handle.supervisorStart);
    return ContainerProcess.adopt(parts, Number(handle.supervisorPid), start);
  }

  /**
   * An adopted instance gets the limits of this agent's memory policy, which may not be
   * the one it started under: switching policy takes an agent restart, not a redeploy.
   */
  private adoptMemoryPolicy(cgroups: InstanceCgroups, handle: BackendHandle): void {
    if (typeof handle.memMb !== 'number') return; // launched before the handle said
    const limits = limitsOf({ limits: { memMb: handle.memMb, cpuShares: 2, nproc: 1 } } as LaunchSpec, this.opts.memory);
    try {
      cgroups.rewriteMemory(limits);
    } catch (err) {
      this.opts.logger.warn({ event: 'backend.memory.readopt_failed', instance_id: String(handle.cgroup), err: String(err) }, 'an adopted instance keeps its earlier memory limits');
    }
  }

  /** An adopted instance's network, its subnet held again (its port is claimed by the lifecycle). */
  private recoverNetwork(handle: BackendHandle): NetRecord | null {
    const network = this.opts.network;
    if (!network || typeof handle.netSubnet !== 'string') return null;
    // Handles written before networks were made ahead name the network by the instance (cgroup) id.
    const rec = network.recordOf(String(handle.netId ?? handle.cgroup), String(handle.cgroup), handle.netSubnet, handle.netShaped === 1);
    if (rec !== null) network.adopt(rec);
    return rec;
  }

  /** What gives back an instance's uid and removes its network, once its processes are gone. */
  private releaser(uid: number, net: NetRecord | null, netStart: NetworkStart | null = null): () => Promise<void> {
    return async () => {
      await netStart?.done;
      await this.opts.uids.release(uid);
      if (net !== null) await this.opts.network?.remove(net);
    };
  }

  /** What earlier agents left of containers no adopted instance explains (see sweep.ts). */
  async sweep(adopted: ReadonlySet<string>): Promise<void> {
    const { runDir, host, cgroupRoot, uids, clock, logger } = this.opts;
    const swept = await sweepEndedContainers({ runDir, host, cgroupRoot, uids, clock }, adopted);
    await this.sweepNetworks(adopted);
    if (swept.removed.length + swept.killed.length === 0) return;
    logger.info(
      { event: 'backend.container.swept', removed: swept.removed, killed: swept.killed },
      `containers no snapshot explains: ${swept.removed.length} ended and removed, ${swept.killed.length} running and killed`,
    );
  }

  /**
   * Networks no adopted instance uses go (adopted ones are known by their network's own
   * id, from their handles); then networks start being made ahead of need.
   */
  private async sweepNetworks(adopted: ReadonlySet<string>): Promise<void> {
    const network = this.opts.network;
    if (!network) return;
    const ids = new Set(adopted);
    for (const id of adopted) {
      const netId = await readFile(join(this.opts.runDir, id, 'handle.json'), 'utf8').then((t) => (JSON.parse(t) as BackendHandle).netId, () => undefined);
      if (typeof netId === 'string') ids.add(netId);
    }
    await network.sweep(ids);
    network.startReady();
  }

  /** Removes the cgroup root where no instance is left in it (one that outlived a deadline keeps it). */
  /** Elastic memory: `onShort` at every poll that finds the pool short (docs/containers.md, elastic memory). */
  watchMemoryPool(onShort: () => void): boolean {
    if (!this.opts.pressure) return false;
    this.opts.pressure.start(onShort);
    return true;
  }

  async close(): Promise<void> {
    await this.opts.network?.close();
    this.opts.pressure?.stop();
    await removeCgroupRoot(this.opts.host, this.opts.cgroupRoot);
    this.opts.agentCgroup?.leave();
  }

  private async start(spec: LaunchSpec, uid: number, cgroups: InstanceCgroups, runDir: string, net: NetRecord | null, release: () => Promise<void>) {
    await rm(runDir, { recursive: true, force: true });
    await mkdir(join(runDir, 'root'), { recursive: true, mode: 0o700 });
    await ownForApp(spec.dir, uid);
    const files = net === null ? null : await writeNetworkFiles(runDir, net, spec.instanceId);
    const launching = launchContainer(this.opts.helper, spec, {
      runDir,
      rootfs: spec.rootfs ?? this.opts.defaultRootfs,
      home: spec.dir,
      hostname: spec.instanceId,
      lxcfs: this.opts.lxcfsDir,
      v2Script: this.opts.startScript,
      cgroupProcs: cgroups.procsFiles(),
      masks: this.opts.masks,
      uid,
      gid: uid,
      groups: this.opts.appGroup === null ? [] : [this.opts.appGroup],
      net: this.supervisorNet(spec, net, files),
    });
    const netStart = net !== null && spec.network && this.opts.network ? new NetworkStart(this.opts.network, net, spec, runDir, launching, () => launching.then(() => cgroups.killAll(), () => undefined)) : null;
    try {
      return await this.started(await launching, spec, uid, cgroups, runDir, net, netStart, release);
    } catch (err) {
      await netStart?.done; // its rules must be in or failed before the caller removes the network
      throw err;
    }
  }

  private async started(launched: Launched, spec: LaunchSpec, uid: number, cgroups: InstanceCgroups, runDir: string, net: NetRecord | null, netStart: NetworkStart | null, release: () => Promise<void>) {
    const { child, initPid } = launched;
    const pid = child.pid as number;
    const handle: BackendHandle = {
      kind: 'container', runDir, supervisorPid: pid, supervisorStart: startTimeTicks(pid), initPid, uid, cgroup: spec.instanceId, memMb: spec.limits.memMb,
      ...(net === null ? {} : { netId: net.names.instanceId, netSubnet: net.subnet.network, netShaped: net.shaped ? 1 : 0 }),
    };
    await writeFile(join(runDir, 'handle.json'), JSON.stringify(handle));
    const hostIf = net?.links.hostIf ?? null;
    const failure = () => netStart?.failure() ?? null;
    return ContainerProcess.ofChild({ handle, runDir, cgroups, clock: this.opts.clock, hostIf, failure, networkSettled: netStart?.done, release: net === null ? release : this.releaser(uid, net, netStart) }, child);
  }
}

function limitsOf(spec: LaunchSpec, memory: MemorySetup | undefined): CgroupLimits {
  const mem = memory?.policy === 'elastic' ? elasticLimits(spec.limits.memMb, memory.maxFactor, memory.poolBytes) : { memBytes: spec.limits.memMb * 1024 * 1024 };
  return { ...mem, cpuShares: spec.limits.cpuShares, pidsMax: spec.limits.nproc };
}

/** The instance's own directories become its uid's; what the droplet brought stays shared. */
async function ownForApp(dir: string, uid: number): Promise<void> {
  for (const d of [dir, join(dir, 'logs'), join(dir, 'tmp'), join(dir, 'app')]) {
    await lchown(d, uid, uid).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** Before anything is taken: the controller hears what is wrong, the operator's log where. */
async function checkRootfs(rootfs: string): Promise<void> {
  const isDir = await stat(rootfs).then((st) => st.isDirectory(), () => false);
  if (isDir) return;
  throw new AgentError(ErrorCodes.BACKEND_FAILED, `the stack's root filesystem ${rootfs} is not a directory on this node`, {
    exitDescription: "failed to start: the stack's root filesystem is missing on this node",
  });
}

function failed(message: string, cause?: unknown): AgentError {
  return new AgentError(ErrorCodes.BACKEND_FAILED, message, { cause, exitDescription: `failed to start: ${message}` });
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

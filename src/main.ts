/**
 * Composition root: load config, build the adapters, wire the agent, start and stop
 * in order. The only file that constructs concrete adapters; no business logic here.
 */
import { totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from './agent/agent.js';
import { ProcessBackend } from './backends/process/index.js';
import { ContainerBackend, createContainerBackend } from './backends/container/index.js';
import { poolBytes } from './backends/container/elastic-pool.js';
import type { MemorySetup } from './backends/container/memory-pool.js';
import { reclaimOnPressure } from './agent/memory-reclaim.js';
import type { Ports } from './lifecycle/ports.js';
import type { Backend } from './backends/types.js';
import { connectNatsBus } from './bus/nats-bus.js';
import { checkConfigValid } from './cli/messages.js';
import { checkConfigFile, loadConfig, type AgentConfig } from './config/index.js';
import { appFiles } from './platform/app-files.js';
import { systemClock } from './platform/clock.js';
import { agentId, randomIds } from './platform/ids.js';
import { createLogger, flushLogger, type Logger } from './platform/logger.js';
import { PortAllocator, tcpProbe } from './platform/net.js';
import { listensOn } from './platform/listeners.js';
import { claimPidFile } from './platform/pid-file.js';
import { watchProcessSignals, whenAborted, type ProcessSignals } from './platform/signals.js';
import { openSdNotify, type SdNotify } from './platform/sd-notify.js';
import { lookupUser } from './platform/users.js';
import { DropletCache, unpackDroplet } from './staging/index.js';
import { Layout } from './staging/layout.js';
import { SparePool } from './staging/spares.js';
import { stagedFiles } from './staging/staged-files.js';
import { OverlayDirs, overlaySupported, type Mounter } from './staging/overlay-dirs.js';
import { SpawnHelper, spawnHelperPath } from './platform/spawner/helper.js';
import { LoopDisks } from './staging/loop-disk.js';
import { loadSnapshot, parseUsageHistory, SnapshotStore } from './snapshot/index.js';
import { unexplainedInstanceDirs } from './staging/orphans.js';
import { UnpackedDirs, type InstanceDirs } from './staging/unpacked-dirs.js';
import { startStatusServer } from './status/server.js';
import { createDirectory } from './directory/index.js';
import { createMetrics } from './status/metrics.js';
import { processCpuMeter } from './status/process-cpu.js';
import type { StatusSource } from './status/source.js';
import { buildVarz } from './status/varz.js';
import { DiskMeter } from './monitor/disk-meter.js';
import { Monitor, type Watched } from './monitor/monitor.js';
import { LIVE } from './instance/states.js';
import type { Instance } from './instance/instance.js';
import { renice } from './platform/renice.js';
import { capacityOf, reservations } from './instance/resources.js';

const LIBEXEC = join(dirname(fileURLToPath(import.meta.url)), '..', 'libexec');
/** However stuck an instance, the agent exits (dea_ng#178). */
const SHUTDOWN_DEADLINE_MS = 60_000;
/** Past the shutdown deadline: time to flush logs and close before the process is ended. */
const HARD_EXIT_MARGIN_MS = 15_000;
/** No instance's disk figure is older than this (issue 3). */
const DISK_MAX_AGE_MS = 30_000;

/** `dea --config FILE`: runs until TERM/INT/QUIT; 0 after a clean shutdown, 1 on failure. */
export async function runAgent(configPath: string): Promise<number> {
  const config = loadConfig(configPath);
  const logger = createLogger({ level: config.logging.level, file: config.logging.file });
  const signals = watchProcessSignals(logger);
  // systemd (config/dea.service): a no-op unless it started us with NOTIFY_SOCKET.
  const notify = openSdNotify({ libexecDir: LIBEXEC, logger });
  signals.stopping.addEventListener('abort', () => notify.stopping('shutting down: stopping instances'), { once: true });
  // Whatever the agent is doing when asked to stop (adopting, connecting, stopping a stuck
  // instance), the process ends: the shutdown's own deadline, then this one (dea_ng#178).
  signals.stopping.addEventListener('abort', () => setTimeout(() => hardExit(logger), SHUTDOWN_DEADLINE_MS + HARD_EXIT_MARGIN_MS).unref(), { once: true });
  try {
    return await run(config, logger, signals, notify);
  } catch (err) {
    logger.fatal({ event: 'agent.failed', err: String(err) }, 'agent failed');
    await flushLogger(logger);
    return 1;
  } finally {
    await notify.close();
  }
}

function hardExit(logger: Logger): void {
  logger.fatal({ event: 'agent.exit.forced' }, 'still running long after being asked to stop: exiting now');
  void flushLogger(logger).finally(() => process.exit(1));
}

/** `dea --check-config FILE`: every problem on stdout; 0 when valid, else 1. */
export function checkConfig(path: string): number {
  const result = checkConfigFile(path);
  if (result.ok) {
    process.stdout.write(checkConfigValid(path));
    return 0;
  }
  for (const p of result.problems) process.stdout.write(`${p}\n`);
  return 1;
}

async function run(config: AgentConfig, logger: Logger, signals: ProcessSignals, notify: SdNotify): Promise<number> {
  const layout = new Layout(config.baseDir);
  await layout.ensure();
  const releasePid = claimPidFile(config.pidFilename);
  try {
    return await runClaimed(config, logger, signals, layout, notify);
  } finally {
    // Also after a failure: a pid file naming a dead agent only confuses the next start.
    releasePid();
  }
}

async function runClaimed(config: AgentConfig, logger: Logger, signals: ProcessSignals, layout: Layout, notify: SdNotify): Promise<number> {
  const id = agentId(config.index, randomIds);
  const clock = systemClock;
  const droplets = new DropletCache({ dropletsDir: layout.droplets, tmpDir: layout.tmp, logger });
  await droplets.init();
  notify.status('connecting to NATS');
  const bus = await connectNatsBus({ servers: config.natsServers, logger, name: `dea-${config.index}`, stopping: signals.stopping });
  if (!bus) return await exited(logger);
  const appUser = process.getuid?.() === 0 ? lookupUser(config.instance.user) : null;
  const helper = new SpawnHelper(spawnHelperPath(LIBEXEC), logger);
  const backend = await chooseBackend(config, layout, appUser, helper, logger);
  const inContainers = backend.kind === 'container';
  const loopDisks = inContainers && config.backend.container.diskLimit === 'loop' ? new LoopDisks(join(layout.layers, '.disks')) : undefined;
  const seenInside = backend.instanceRoot === null ? [] : [backend.instanceRoot];
  const { dirs, spares } = await instanceDirs(layout, appUser, { shareWithGroup: inContainers, loopDisks, seenInside, mounter: helper }, logger);
  const snapshot = new SnapshotStore(layout.snapshotFile);
  const usageHistory = new SnapshotStore(layout.usageHistoryFile);
  const directory = createDirectory({ now: () => clock.now(), layout, logger });
  const agent = new Agent({
    id, config, bus, clock, ids: randomIds, logger, layout,
    lifecycle: {
      droplets, dirs, backend, ports: hostPortsOf(backend) ?? new PortAllocator(), probe: tcpProbe, listensOn: async (port, pids) => listensOn(port, pids, await helper.listeningInodes(port)), appUser, stagedFiles, appFiles,
    },
    reapDroplets: async (inUse) => {
      const keep = new Set([...inUse, ...(await dirs.mountedDroplets())]);
      for (const sha1 of await droplets.reap(keep)) await spares?.drop(sha1);
    },
    snapshot,
    usageHistory,
    fileUri: (instanceId, path) => directory.fileUri(instanceId, path),
  });
  await adoptEarlier({ agent, backend, dirs, layout, store: snapshot, usageHistory, nowMs: clock.now(), logger });
  if (signals.stopping.aborted) return await stopBeforeServing(agent, backend, bus, signals, logger, helper);
  // Elastic memory (docs/containers.md): quotas are guarantees; containers only.
  const elastic = backend.kind === 'container' && config.backend.container.memoryPolicy === 'elastic';
  const monitor = new Monitor({
    clock, logger,
    intervalMs: config.monitor.intervalMs,
    maxSamples: config.monitor.maxUsageSamples,
    diskMaxAgeMs: DISK_MAX_AGE_MS,
    disk: new DiskMeter(),
    watched: () => watched(agent, layout, dirs),
    overQuota: (inst, reason) => void agent.ctx.lifecycle.kill(inst, reason),
    memoryIsGuarantee: elastic,
    renice,
  });
  const startMs = clock.now();
  const source = statusSource(agent, config, monitor, elastic);
  const metrics = createMetrics(source);
  const cpu = processCpuMeter();
  let host = '';
  const credentials = [config.status.user, config.status.password] as const;
  const status = await startStatusServer(config.status, {
    varz: () =>
      buildVarz(source, {
        uuid: id, index: config.index, host, credentials, stacks: config.stacks.map((s) => s.name), backend: backend.kind, startMs,
      }, clock.now(), cpu()),
    metrics: () => metrics.render(),
    directory: directory.routes(agent.registry),
  });
  host = `${config.localIp}:${status.port}`;
  directory.listening(config.localIp, status.port);
  agent.start();
  monitor.start();
  reclaimOnPressure(backend, agent, logger);
  agent.announce({ type: 'DEA', index: config.index, uuid: id, host, credentials, startMs });
  logger.info({ event: 'status.listening', port: status.port }, 'status server listening');
  // READY=1 only once the server has our subscriptions (and adoption, above, is done).
  await bus.flush().catch(() => undefined);
  logger.info({ event: 'agent.ready', id, instances: agent.registry.inStates(LIVE).length }, 'agent ready: the server has its subscriptions');
  notify.ready(() => `serving ${agent.registry.inStates(LIVE).length} instances`);
  signals.onLeavePlacement(() => agent.leavePlacement());
  signals.onEvacuate(() => void agent.evacuate());
  await untilStopped(agent, signals, logger);
  monitor.stop();
  // The helper first: it lives in the agent's CPU group, which the backend removes on close.
  await helper.close();
  await backend.close?.();
  await status.close();
  await bus.close().catch(() => undefined);
  return await exited(logger);
}

/**
 * Before the agent subscribes: adopts what the last agent's snapshot describes, then
 * lets the backend release what it left of instances no entry explains.
 */
async function adoptEarlier(a: {
  agent: Agent; backend: Backend; dirs: InstanceDirs; layout: Layout; store: SnapshotStore; usageHistory: SnapshotStore; nowMs: number; logger: Logger;
}): Promise<void> {
  const { agent, backend, dirs, layout, logger } = a;
  const entries = loadSnapshot(a.store, a.nowMs, logger);
  const historyText = entries.length > 0 ? a.usageHistory.read() : null;
  const history = historyText === null ? null : parseUsageHistory(historyText);
  const adopted = await agent.adopt(entries, history ?? new Map());
  // Processes first (they may hold the directories), then the directories and mounts.
  await backend.sweep?.(adopted.explained);
  const strays = await unexplainedInstanceDirs([layout.instances, layout.layers], adopted.explained);
  for (const id of strays) await dirs.remove(id);
  if (strays.length > 0) logger.info({ event: 'staging.dirs.swept', instances: strays }, `removed ${strays.length} instance directories no snapshot explains`);
  if (entries.length === 0) return;
  logger.info(
    { event: 'agent.adopted', running: adopted.running.length, crashed: adopted.crashed.length, records: adopted.records },
    `adopted ${adopted.running.length} running instances; ${adopted.crashed.length} had ended`,
  );
}

/** TERM while adopting: never subscribe; stop what was adopted, as a shutdown does, and exit. */
async function stopBeforeServing(agent: Agent, backend: Backend, bus: { close(): Promise<void> }, signals: ProcessSignals, logger: Logger, helper: SpawnHelper): Promise<number> {
  logger.info({ event: 'agent.stopped_before_serving' }, 'asked to stop while adopting: not serving');
  await untilStopped(agent, signals, logger);
  await helper.close();
  await backend.close?.();
  await bus.close().catch(() => undefined);
  return await exited(logger);
}

async function exited(logger: Logger): Promise<number> {
  logger.info({ event: 'agent.exited' }, 'agent exited');
  await flushLogger(logger);
  return 0;
}

/** Each instance's directory, built once rather than on every tick. */
const instanceDirOf = new WeakMap<Instance, string>();

/** Instances with a process, for the monitor. */
function* watched(agent: Agent, layout: Layout, dirs: InstanceDirs): Iterable<Watched> {
  for (const instance of agent.registry.inStates(LIVE)) {
    const process = agent.ctx.lifecycle.process(instance);
    if (!process) continue;
    const disk = dirs.diskSource?.(instance.localId, instance.dropletSha1) ?? null;
    let dir = instanceDirOf.get(instance);
    if (dir === undefined) instanceDirOf.set(instance, (dir = layout.instanceDir(instance.localId)));
    yield { instance, process, dir, disk };
  }
}

function statusSource(agent: Agent, config: AgentConfig, monitor: Monitor, elastic: boolean): StatusSource {
  const capacity = capacityOf(config.resources);
  return {
    memoryIsGuarantee: () => elastic,
    instances: () => agent.registry.all(),
    capacity: () => capacity,
    reservations: () => reservations(capacity, agent.registry),
    lastTick: () => monitor.lastTick(),
    recentTicks: () => monitor.recentTicks(),
  };
}

/** Overlay views of one unpacked tree per droplet where the kernel and our rights allow. */
async function instanceDirs(
  layout: Layout,
  user: { uid: number; gid: number } | null,
  extras: { shareWithGroup: boolean; loopDisks?: LoopDisks; seenInside: readonly string[]; mounter: Mounter },
  logger: Logger,
): Promise<{ dirs: InstanceDirs; spares: SparePool | null }> {
  if (await overlaySupported(layout, logger, extras.mounter)) {
    logger.info({ event: 'staging.dirs.chosen', kind: 'overlay' }, 'instance directories: overlayfs over one tree per droplet');
    return { dirs: new OverlayDirs({ layout, unpack: unpackDroplet, user, logger, ...extras }), spares: null };
  }
  logger.info({ event: 'staging.dirs.chosen', kind: 'unpacked' }, 'instance directories: one unpacked copy each');
  const spares = new SparePool({ dir: layout.tmp, unpack: unpackDroplet, user, logger });
  await spares.init();
  return { dirs: new UnpackedDirs({ layout, unpack: unpackDroplet, user, spares }), spares };
}

/**
 * `container` and `auto`: the container backend where this host can run it (root,
 * writable cgroups), else `process`, with the reason in the log; varz shows the choice.
 */
async function chooseBackend(
  config: AgentConfig,
  layout: Layout,
  appUser: { uid: number; gid: number } | null,
  helper: SpawnHelper,
  logger: Logger,
): Promise<Backend> {
  if (config.backend.kind !== 'process') {
    const c = config.backend.container;
    const choice = await createContainerBackend({
      baseDir: layout.baseDir,
      runDir: layout.supervise,
      uidDir: join(layout.db, 'uids'),
      libexecDir: LIBEXEC,
      cgroupRoot: c.cgroupRoot,
      lxcfsDir: c.lxcfsDir,
      defaultRootfs: config.stacks[0]?.packagePath ?? '/',
      appGroup: appUser?.gid ?? null,
      network: c.network?.enabled ? { config: c.network, bandwidth: config.instance.bandwidth ?? null, shared: sharedBandwidth(config), localIp: config.localIp } : undefined,
      memory: memorySetup(config),
      agentCpuShares: config.resources.reservedCpuShares,
      clock: systemClock,
      logger,
    });
    if (choice.ok) {
      logger.info({ event: 'backend.chosen', kind: 'container', asked: config.backend.kind }, 'backend: container');
      return choice.backend;
    }
    const level = config.backend.kind === 'container' ? 'warn' : 'info';
    logger[level]({ event: 'backend.container.unavailable', why: choice.why }, `container backend unavailable (${choice.why}): using process`);
  }
  logger.info({ event: 'backend.chosen', kind: 'process', asked: config.backend.kind }, 'backend: process');
  logger.info({ event: 'backend.network.shared' }, 'process backend: no network isolation (apps share the host network and listen on their host port)');
  if (config.backend.container.memoryPolicy === 'elastic' || config.instance.bandwidthPolicy === 'shared') {
    logger.warn({ event: 'backend.elastic.ignored' }, 'process backend: elastic memory, shared bandwidth and the reserved CPU shares need containers: ignored');
  }
  return new ProcessBackend({ runDir: layout.supervise, libexecDir: LIBEXEC, clock: systemClock, logger, spawner: helper });
}

/** `instance.bandwidth.policy: shared`: the node's rate, divided by the memory placement promises. */
function sharedBandwidth(config: AgentConfig): { rate: number; capacityMb: number } | null {
  const r = config.resources;
  if (config.instance.bandwidthPolicy !== 'shared' || r.bandwidth === null) return null;
  return { rate: r.bandwidth, capacityMb: r.memoryMb * r.memoryOvercommitFactor };
}

/** Elastic memory's pool: the apps' share of the node, within physical memory minus the reserve. */
function memorySetup(config: AgentConfig): MemorySetup {
  const r = config.resources;
  const pool = poolBytes({ appsMb: r.memoryMb * r.memoryOvercommitFactor, reservedMb: r.reservedMemoryMb, physicalBytes: totalmem() });
  return { policy: config.backend.container.memoryPolicy, poolBytes: pool, maxFactor: config.instance.elasticMaxFactor };
}

/** The network's port pool, when container instances have networks of their own. */
function hostPortsOf(backend: Backend): Ports | null {
  return backend instanceof ContainerBackend ? backend.hostPorts : null;
}

/**
 * After the first TERM/INT/QUIT, or once a USR2 evacuation is over (it has its own
 * bail-out time): one graceful shutdown, with a hard deadline.
 */
async function untilStopped(agent: Agent, signals: ProcessSignals, logger: Logger): Promise<void> {
  await Promise.race([whenAborted(signals.stopping), agent.evacuated]);
  let deadline: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    deadline = setTimeout(() => {
      logger.error({ event: 'agent.shutdown.deadline' }, 'shutdown deadline passed: exiting');
      resolve();
    }, SHUTDOWN_DEADLINE_MS);
  });
  const shutdown = agent.shutdown().catch((err: unknown) => {
    logger.error({ event: 'agent.shutdown.failed', err: String(err) }, 'shutdown failed: exiting');
  });
  await Promise.race([shutdown, late]);
  clearTimeout(deadline);
}

import { cpus, freemem, loadavg, totalmem } from 'node:os';
import type { InstanceView } from '../instance/types.js';
import { epochSeconds, rubyTime, uptimeString } from '../protocol/index.js';
import { borrowedBytes, type StatusSource } from './source.js';

export interface VarzContext {
  readonly uuid: string;
  readonly index: number;
  /** `<ip>:<status port>` */
  readonly host: string;
  readonly credentials: readonly [string, string];
  readonly stacks: readonly string[];
  readonly backend: string;
  readonly startMs: number;
}

const MIB = 1024 * 1024;

/** The varz document: vcap component fields and the DEA's own of v1 and v2 (protocol §10). */
export function buildVarz(source: StatusSource, ctx: VarzContext, nowMs: number, cpuPercent: number): Record<string, unknown> {
  const cap = source.capacity();
  const r = source.reservations();
  const instances = source.instances();
  const used = instances.reduce((sum, i) => sum + (i.usage?.memBytes ?? 0), 0);
  const elastic = source.memoryIsGuarantee?.() === true;
  return {
    type: 'DEA',
    index: ctx.index,
    uuid: ctx.uuid,
    host: ctx.host,
    credentials: [...ctx.credentials],
    start: rubyTime(ctx.startMs),
    uptime: uptimeString(ctx.startMs, nowMs),
    mem_bytes: process.memoryUsage.rss(),
    mem_used_bytes: totalmem() - freemem(),
    mem_free_bytes: freemem(),
    cpu: cpuPercent,
    num_cores: cpus().length,
    cpu_load_avg: loadavg()[0],
    apps_max_memory: cap.memoryMb,
    apps_reserved_memory: r.reservedMemoryMb,
    apps_used_memory: Math.floor(used / MIB),
    memory_policy: elastic ? 'elastic' : 'hard',
    ...(elastic ? { apps_borrowed_memory: Math.floor(instances.reduce((sum, i) => sum + borrowedBytes(i), 0) / MIB) } : {}),
    num_apps: instances.length,
    stacks: [...ctx.stacks],
    available_memory_ratio: ratio(r.availableMemoryMb, cap.memoryMb),
    available_disk_ratio: ratio(r.availableDiskMb, cap.diskMb),
    can_stage: 0,
    reservable_stagers: 0,
    instance_registry: instanceRegistry(instances, elastic),
    running_apps: instances.filter((i) => i.state === 'RUNNING').map(runningApp),
    backend: ctx.backend,
    monitor: source.lastTick(),
    monitor_recent: source.recentTicks?.() ?? [],
  };
}

function ratio(available: number, capacity: number): number {
  return capacity > 0 ? available / capacity : 0;
}

/** v2: app id → instance id → attributes (no services, environment or droplet uri). */
function instanceRegistry(instances: readonly InstanceView[], elastic: boolean): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const i of instances) {
    (out[i.spec.applicationId] ??= {})[i.instanceId] = {
      application_id: i.spec.applicationId,
      application_version: i.version,
      application_name: i.spec.applicationName,
      application_uris: i.uris,
      instance_id: i.instanceId,
      instance_index: i.spec.instanceIndex,
      state: i.state,
      state_timestamp: epochSeconds(i.stateTimestamp),
      limits: { mem: i.spec.limits.memMb, disk: i.spec.limits.diskMb, fds: i.spec.limits.fds },
      instance_host_port: i.hostPort,
      exit_status: i.exitStatus,
      exit_description: i.exitDescription,
      used_memory_in_bytes: i.usage?.memBytes ?? 0,
      used_disk_in_bytes: i.usage?.diskBytes ?? 0,
      computed_pcpu: i.usage?.cpu ?? 0,
      ...networkBytes(i),
      ...(elastic ? { memory_guarantee_in_bytes: i.spec.limits.memMb * MIB, borrowed_memory_in_bytes: borrowedBytes(i) } : {}),
    };
  }
  return out;
}

/** Bytes in and out of an instance's own network, where it has one. */
function networkBytes(i: InstanceView): { network_rx_bytes?: number; network_tx_bytes?: number } {
  const c = i.usage?.container;
  if (c?.netRxBytes === undefined || c.netTxBytes === undefined) return {};
  return { network_rx_bytes: c.netRxBytes, network_tx_bytes: c.netTxBytes };
}

/** v1: each running instance with its latest usage sample. */
function runningApp(i: InstanceView): Record<string, unknown> {
  return {
    droplet_id: i.spec.applicationId,
    instance_id: i.instanceId,
    instance_index: i.spec.instanceIndex,
    name: i.spec.applicationName,
    uris: i.uris,
    port: i.hostPort,
    mem_quota: i.spec.limits.memMb * MIB,
    disk_quota: i.spec.limits.diskMb * MIB,
    fds_quota: i.spec.limits.fds,
    usage: i.usage ? { time: rubyTime(i.usage.time), cpu: i.usage.cpu, mem: i.usage.memBytes, disk: i.usage.diskBytes } : null,
  };
}

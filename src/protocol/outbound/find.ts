/** One `dea.find.droplet` reply per matching instance (protocol §3.4). */
import type { InstanceState, InstanceView, UsageSample } from '../../instance/types.js';
import { wireVersion } from './instance.js';
import { epochSeconds, rubyTime, wholeSeconds } from './time.js';

const MIB = 1024 * 1024;

export interface UsageStats {
  time: string;
  cpu: number;
  mem: number;
  disk: number;
}

/** A container instance's cgroup figures (an extension; dea_ng's readers ignore it). */
export interface ContainerStats {
  mem_cache: number;
  mem_rss: number;
  cpu_time_ns: number;
  pids: number;
  oom_kills: number;
}

export interface InstanceStats {
  name: string;
  uris: string[];
  host: string;
  port: number | null;
  uptime: number;
  mem_quota: number;
  disk_quota: number;
  fds_quota: number;
  usage: UsageStats;
  container?: ContainerStats;
}

export interface FindReply {
  dea: string;
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: InstanceState;
  state_timestamp: number;
  staged: string;
  file_uri_v2?: string | null;
  stats?: InstanceStats;
}

export interface FindReplyOptions {
  readonly includeStats: boolean;
  /** The request had a `path` key (even null): CC's files API then expects `file_uri_v2`. */
  readonly hasPath: boolean;
  readonly nowMs: number;
  readonly fileUri?: string | null;
}

/** No sample yet reads as idle, timed now, rather than leaving `usage` out. */
function usageStats(usage: UsageSample | null, nowMs: number): UsageStats {
  if (usage === null) return { time: rubyTime(nowMs), cpu: 0, mem: 0, disk: 0 };
  return {
    time: rubyTime(usage.time),
    cpu: usage.cpu,
    mem: Math.round(usage.memBytes),
    disk: Math.round(usage.diskBytes),
  };
}

function instanceStats(host: string, inst: InstanceView, nowMs: number): InstanceStats {
  const started = inst.startingTimestamp ?? nowMs;
  return {
    name: inst.spec.applicationName,
    uris: [...inst.uris],
    host,
    port: inst.hostPort,
    uptime: Math.max(0, wholeSeconds(nowMs - started)),
    mem_quota: inst.spec.limits.memMb * MIB,
    disk_quota: inst.spec.limits.diskMb * MIB,
    fds_quota: inst.spec.limits.fds,
    usage: usageStats(inst.usage, nowMs),
    ...containerStats(inst.usage),
  };
}

function containerStats(usage: UsageSample | null): { container?: ContainerStats } {
  const c = usage?.container;
  if (c === undefined) return {};
  return { container: { mem_cache: c.cacheBytes, mem_rss: c.rssBytes, cpu_time_ns: c.cpuNs, pids: c.pids, oom_kills: c.oomKills } };
}

export function findReply(
  ctx: { readonly deaId: string; readonly host: string },
  inst: InstanceView,
  opts: FindReplyOptions,
): FindReply {
  const reply: FindReply = {
    dea: ctx.deaId,
    droplet: inst.spec.applicationId,
    version: wireVersion(inst),
    instance: inst.instanceId,
    index: inst.spec.instanceIndex,
    state: inst.state,
    state_timestamp: epochSeconds(inst.stateTimestamp),
    staged: `/${inst.instanceId}`,
  };
  if (opts.hasPath) reply.file_uri_v2 = opts.fileUri ?? null;
  // Only a running instance has meaningful usage; CC asks for RUNNING anyway (§3.4).
  if (opts.includeStats && inst.state === 'RUNNING') reply.stats = instanceStats(ctx.host, inst, opts.nowMs);
  return reply;
}

import { cpus, loadavg } from 'node:os';
import type { Agent } from '../agent/agent.js';
import type { AgentConfig } from '../config/types.js';
import { capacityOf, reservations } from '../instance/resources.js';
import { rubyTime, uptimeString } from '../protocol/index.js';

export interface VarzContext {
  readonly id: string;
  readonly config: AgentConfig;
  readonly startMs: number;
  readonly nowMs: number;
  readonly backend: string;
}

/** The varz document: vcap component fields and the DEA's own (protocol §10). */
export function buildVarz(agent: Agent, ctx: VarzContext): Record<string, unknown> {
  const cap = capacityOf(ctx.config.resources);
  const r = reservations(cap, agent.registry);
  const instances = agent.registry.all();
  const usedBytes = instances.reduce((sum, i) => sum + (i.usage?.memBytes ?? 0), 0);
  return {
    type: 'DEA',
    index: ctx.config.index,
    uuid: ctx.id,
    host: ctx.config.localIp,
    start: rubyTime(ctx.startMs),
    uptime: uptimeString(ctx.startMs, ctx.nowMs),
    mem_bytes: process.memoryUsage.rss(),
    cpu: 0,
    num_cores: cpus().length,
    cpu_load_avg: loadavg()[0],
    apps_max_memory: cap.memoryMb,
    apps_reserved_memory: r.reservedMemoryMb,
    apps_used_memory: Math.floor(usedBytes / (1024 * 1024)),
    num_apps: instances.length,
    stacks: ctx.config.stacks.map((s) => s.name),
    available_memory_ratio: cap.memoryMb > 0 ? 1 - r.reservedMemoryMb / cap.memoryMb : 0,
    available_disk_ratio: cap.diskMb > 0 ? 1 - r.reservedDiskMb / cap.diskMb : 0,
    backend: ctx.backend,
  };
}

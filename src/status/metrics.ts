import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { INSTANCE_STATES } from '../instance/types.js';
import { borrowedBytes, type StatusSource } from './source.js';

const MIB = 1024 * 1024;

/**
 * Prometheus metrics, computed from the status source at scrape time: no timers of
 * their own, nothing cached between scrapes except the default process metrics.
 */
export function createMetrics(source: StatusSource): { registry: Registry; render(): Promise<{ contentType: string; body: string }> } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'dea_agent_' });
  const labels = ['app', 'app_name', 'instance', 'index'] as const;
  const perInstance = (name: string, help: string, value: (i: ReturnType<StatusSource['instances']>[number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: labels,
      registers: [registry],
      collect() {
        this.reset();
        for (const i of source.instances()) {
          const v = value(i);
          if (v === null) continue;
          this.set({ app: i.spec.applicationId, app_name: i.spec.applicationName, instance: i.instanceId, index: String(i.spec.instanceIndex) }, v);
        }
      },
    });
  perInstance('dea_instance_cpu_ratio', 'CPU of the instance over the last interval, in cores', (i) => i.usage?.cpu ?? null);
  perInstance('dea_instance_memory_bytes', 'Memory of the instance process tree', (i) => i.usage?.memBytes ?? null);
  perInstance('dea_instance_disk_bytes', 'Disk used by the instance directory', (i) => i.usage?.diskBytes ?? null);
  perInstance('dea_instance_memory_quota_bytes', 'Memory quota of the instance', (i) => i.spec.limits.memMb * MIB);
  perInstance('dea_instance_disk_quota_bytes', 'Disk quota of the instance', (i) => i.spec.limits.diskMb * MIB);
  perInstance('dea_instance_fds_quota', 'File descriptor quota of the instance', (i) => i.spec.limits.fds);
  // Container instances only: their cgroup's own figures.
  perInstance('dea_instance_memory_cache_bytes', 'Page cache charged to the container', (i) => i.usage?.container?.cacheBytes ?? null);
  perInstance('dea_instance_memory_rss_bytes', 'Anonymous memory of the container', (i) => i.usage?.container?.rssBytes ?? null);
  perInstance('dea_instance_cpu_seconds', 'CPU time of the container since it started', (i) => (i.usage?.container ? i.usage.container.cpuNs / 1e9 : null));
  perInstance('dea_instance_pids', 'Processes in the container', (i) => i.usage?.container?.pids ?? null);
  perInstance('dea_instance_oom_kills', 'Processes the kernel OOM killer killed in the container', (i) => i.usage?.container?.oomKills ?? null);
  // Container instances with a network of their own: the counters of their veth.
  perInstance('dea_instance_network_rx_bytes', 'Bytes the instance received over its own network', (i) => i.usage?.container?.netRxBytes ?? null);
  perInstance('dea_instance_network_tx_bytes', 'Bytes the instance sent over its own network', (i) => i.usage?.container?.netTxBytes ?? null);
  // Elastic memory only: the quota is a guarantee, and an instance may borrow above it.
  const elastic = () => source.memoryIsGuarantee?.() === true;
  perInstance('dea_instance_memory_guarantee_bytes', 'Memory guaranteed to the instance (its quota, under elastic memory)', (i) => (elastic() ? i.spec.limits.memMb * MIB : null));
  perInstance('dea_instance_memory_borrowed_bytes', 'Memory the instance uses above its guarantee', (i) => (elastic() && i.usage ? borrowedBytes(i) : null));
  new Gauge({
    name: 'dea_instances',
    help: 'Instances by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(INSTANCE_STATES.map((s) => [s, 0]));
      for (const i of source.instances()) counts.set(i.state, (counts.get(i.state) ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  const scalar = (name: string, help: string, value: () => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = value();
        if (v !== null) this.set(v);
      },
    });
  scalar('dea_capacity_memory_bytes', 'Memory capacity with overcommit', () => source.capacity().memoryMb * MIB);
  scalar('dea_capacity_disk_bytes', 'Disk capacity with overcommit', () => source.capacity().diskMb * MIB);
  scalar('dea_reserved_memory_bytes', 'Memory reserved by instances', () => source.reservations().reservedMemoryMb * MIB);
  scalar('dea_reserved_disk_bytes', 'Disk reserved by instances', () => source.reservations().reservedDiskMb * MIB);
  scalar('dea_memory_borrowed_bytes', 'Memory all instances use above their guarantees (elastic memory)', () =>
    elastic() ? source.instances().reduce((sum, i) => sum + borrowedBytes(i), 0) : null,
  );
  scalar('dea_monitor_tick_wall_seconds', 'Wall time of the last monitor tick', () => msToS(source.lastTick()?.wallMs));
  scalar('dea_monitor_tick_cpu_seconds', 'CPU time of the last monitor tick', () => msToS(source.lastTick()?.cpuMs));
  scalar('dea_monitor_tick_disk_wall_seconds', 'Part of the last tick spent measuring disk', () => msToS(source.lastTick()?.diskWallMs));
  scalar('dea_monitor_tick_read_cpu_seconds', 'CPU time of the last tick spent reading CPU and memory', () => msToS(source.lastTick()?.readCpuMs));
  scalar('dea_monitor_tick_disk_cpu_seconds', 'CPU time of the last tick spent measuring disk', () => msToS(source.lastTick()?.diskCpuMs));
  return {
    registry,
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

function msToS(ms: number | undefined): number | null {
  return ms === undefined ? null : ms / 1000;
}

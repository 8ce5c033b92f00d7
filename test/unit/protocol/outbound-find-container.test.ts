import { describe, expect, it } from 'vitest';
import { findReply } from '../../../src/protocol/index.js';
import { createMetrics } from '../../../src/status/metrics.js';
import type { StatusSource } from '../../../src/status/source.js';
import { DEA_ID, instance } from './fixtures.js';

const NOW = Date.UTC(2016, 0, 21, 10, 15, 5, 500);
const container = { cacheBytes: 4096, rssBytes: 8 * 1024 * 1024, cpuNs: 2_500_000_000, pids: 3, oomKills: 1 };
const usage = { time: NOW - 1000, cpu: 0.5, memBytes: 8 * 1024 * 1024, diskBytes: 1024, container };

describe('a container instance in find.droplet and /metrics', () => {
  it('carries the cgroup figures beside the usage in find.droplet stats', () => {
    const reply = findReply({ deaId: DEA_ID, host: '10.0.0.1' }, instance({ usage }), { includeStats: true, hasPath: false, nowMs: NOW });
    expect(reply.stats?.container).toEqual({ mem_cache: 4096, mem_rss: 8 * 1024 * 1024, cpu_time_ns: 2_500_000_000, pids: 3, oom_kills: 1 });
    expect(reply.stats?.usage.mem).toBe(8 * 1024 * 1024);
  });

  it('leaves the container figures out for an instance without cgroups', () => {
    const { container: _, ...plain } = usage;
    const reply = findReply({ deaId: DEA_ID, host: '10.0.0.1' }, instance({ usage: plain }), { includeStats: true, hasPath: false, nowMs: NOW });
    expect(reply.stats).toBeDefined();
    expect(reply.stats).not.toHaveProperty('container');
  });

  it('exports them as per-instance gauges', async () => {
    const source = {
      instances: () => [instance({ usage })],
      capacity: () => ({ memoryMb: 1024, diskMb: 1024 }),
      reservations: () => ({ reservedMemoryMb: 0, reservedDiskMb: 0 }),
      lastTick: () => null,
    } as unknown as StatusSource;
    const { body } = await createMetrics(source).render();
    expect(body).toMatch(/^dea_instance_memory_rss_bytes\{[^}]*\} 8388608$/m);
    expect(body).toMatch(/^dea_instance_memory_cache_bytes\{[^}]*\} 4096$/m);
    expect(body).toMatch(/^dea_instance_cpu_seconds\{[^}]*\} 2\.5$/m);
    expect(body).toMatch(/^dea_instance_pids\{[^}]*\} 3$/m);
    expect(body).toMatch(/^dea_instance_oom_kills\{[^}]*\} 1$/m);
  });
});

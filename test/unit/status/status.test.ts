import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Instance } from '../../../src/instance/instance.js';
import { InstanceRegistry } from '../../../src/instance/registry.js';
import { capacityOf, reservations } from '../../../src/instance/resources.js';
import type { StartSpec } from '../../../src/instance/types.js';
import { createMetrics } from '../../../src/status/metrics.js';
import { startStatusServer, type StatusServer } from '../../../src/status/server.js';
import type { StatusSource } from '../../../src/status/source.js';
import { buildVarz } from '../../../src/status/varz.js';

const MIB = 1024 * 1024;

function spec(app: string, index: number): StartSpec {
  return {
    applicationId: app, applicationVersion: 'v1', applicationName: `${app}-name`, instanceIndex: index, ccPartition: 'default',
    uris: [`${app}.example.com`], stack: null, dropletSha1: null, dropletUri: 'http://x/d', startCommand: null,
    healthCheckTimeoutSecs: null, limits: { memMb: 256, diskMb: 1024, fds: 100 }, environment: [['SECRET', 's3cr3t']],
    services: [], vcapApplication: {},
  };
}

const registry = new InstanceRegistry();
const run = new Instance({ instanceId: 'a'.repeat(32), privateInstanceId: 'p', spec: spec('app1', 0), nowMs: 1_000_000 });
run.transition('STARTING', 1_000_000);
run.transition('RUNNING', 1_001_000);
run.hostPort = 61001;
run.recordUsage({ time: 1_002_000, cpu: 0.25, memBytes: 100 * MIB, diskBytes: 20 * MIB }, 30);
const crashed = new Instance({ instanceId: 'b'.repeat(32), privateInstanceId: 'q', spec: spec('app2', 1), nowMs: 1_000_000 });
crashed.transition('STARTING', 1_000_000);
crashed.transition('CRASHED', 1_003_000);
registry.add(run);
registry.add(crashed);
const capacity = capacityOf({ memoryMb: 1024, memoryOvercommitFactor: 2, diskMb: 4096, diskOvercommitFactor: 1 });
const source: StatusSource = {
  instances: () => registry.all(),
  capacity: () => capacity,
  reservations: () => reservations(capacity, registry),
  lastTick: () => ({ atMs: 1_004_000, wallMs: 1.5, cpuMs: 1.25, instances: 1, diskWallMs: 0.5, diskMeasured: 1 }),
};
const ctx = { uuid: '0-abc', index: 0, host: '10.0.0.1:4000', credentials: ['u', 'p'] as const, stacks: ['cflinuxfs4'], backend: 'process', startMs: 1_000_000 };

describe('the varz document', () => {
  const varz = buildVarz(source, ctx, 1_000_000 + 90_061_000, 12.5);

  it('carries the vcap component fields', () => {
    expect(varz).toMatchObject({ type: 'DEA', index: 0, uuid: '0-abc', host: '10.0.0.1:4000', credentials: ['u', 'p'], uptime: '1d:1h:1m:1s', cpu: 12.5 });
    expect(varz.start).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$/);
    expect(varz.mem_bytes).toBeGreaterThan(0);
    expect(typeof varz.num_cores).toBe('number');
    expect(typeof varz.cpu_load_avg).toBe('number');
  });

  it('carries the DEA fields of v1 and v2 from the registry and the monitor', () => {
    expect(varz).toMatchObject({
      apps_max_memory: 2048,
      apps_reserved_memory: 256,
      apps_used_memory: 100,
      num_apps: 2,
      stacks: ['cflinuxfs4'],
      available_memory_ratio: 1 - 256 / 2048,
      backend: 'process',
      monitor: { wallMs: 1.5, cpuMs: 1.25, instances: 1 },
    });
    // disk: the running instance and the crash (which keeps its directory) both hold theirs
    expect(varz.available_disk_ratio).toBeCloseTo(1 - 2048 / 4096);
    const reg = varz.instance_registry as Record<string, Record<string, Record<string, unknown>>>;
    expect(reg.app1?.['a'.repeat(32)]).toMatchObject({ state: 'RUNNING', used_memory_in_bytes: 100 * MIB, used_disk_in_bytes: 20 * MIB, computed_pcpu: 0.25, instance_host_port: 61001 });
    expect(reg.app2?.['b'.repeat(32)]).toMatchObject({ state: 'CRASHED' });
    expect(JSON.stringify(varz)).not.toContain('s3cr3t');
    expect(varz.running_apps).toEqual([
      expect.objectContaining({ droplet_id: 'app1', instance_index: 0, usage: expect.objectContaining({ cpu: 0.25, mem: 100 * MIB }) }),
    ]);
  });
});

describe('the status server', () => {
  let server: StatusServer;
  const metrics = createMetrics(source);
  const auth = { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` };
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

  beforeAll(async () => {
    server = await startStatusServer({ host: '127.0.0.1', port: 0, user: 'user', password: 'pass' }, {
      varz: () => buildVarz(source, ctx, 2_000_000, 0),
      metrics: () => metrics.render(),
    });
  });
  afterAll(async () => server.close());

  it('asks for credentials on every path, and refuses wrong ones', async () => {
    for (const path of ['/healthz', '/varz', '/metrics', '/nothing']) expect((await fetch(url(path))).status).toBe(401);
    const wrong = { authorization: `Basic ${Buffer.from('user:nope').toString('base64')}` };
    expect((await fetch(url('/healthz'), { headers: wrong })).status).toBe(401);
  });

  it('answers healthz, varz and metrics, and 404 elsewhere', async () => {
    expect(await (await fetch(url('/healthz'), { headers: auth })).text()).toBe('ok\n');
    expect(((await (await fetch(url('/varz'), { headers: auth })).json()) as { uuid: string }).uuid).toBe('0-abc');
    const text = await (await fetch(url('/metrics'), { headers: auth })).text();
    expect(text).toContain(`dea_instance_cpu_ratio{app="app1",app_name="app1-name",instance="${'a'.repeat(32)}",index="0"} 0.25`);
    expect(text).toContain(`dea_instance_memory_quota_bytes{app="app2",app_name="app2-name",instance="${'b'.repeat(32)}",index="1"} ${256 * MIB}`);
    expect(text).toContain('dea_instances{state="CRASHED"} 1');
    expect(text).toContain(`dea_capacity_memory_bytes ${2048 * MIB}`);
    expect(text).toContain('dea_monitor_tick_cpu_seconds 0.00125');
    expect((await fetch(url('/nothing'), { headers: auth })).status).toBe(404);
  });
});

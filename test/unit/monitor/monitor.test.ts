import { describe, expect, it } from 'vitest';
import type { InstanceProcess, UsageReading } from '../../../src/backends/types.js';
import { Instance } from '../../../src/instance/instance.js';
import type { StartSpec } from '../../../src/instance/types.js';
import type { DiskMeter } from '../../../src/monitor/disk-meter.js';
import { Monitor, type Watched } from '../../../src/monitor/monitor.js';
import { silentLogger } from '../../../src/platform/logger.js';
import { VirtualClock } from '../../support/virtual-clock.js';

const MIB = 1024 * 1024;

function spec(over: Partial<StartSpec> = {}): StartSpec {
  return {
    applicationId: 'app', applicationVersion: 'v1', applicationName: 'web', instanceIndex: 0, ccPartition: 'default',
    uris: [], stack: null, dropletSha1: null, dropletUri: 'http://x/d', startCommand: null, healthCheckTimeoutSecs: null,
    limits: { memMb: 64, diskMb: 128, fds: 1024 }, environment: [], services: [], vcapApplication: {},
    ...over,
  };
}

/** A process whose readings the test scripts. */
function scripted(readings: (UsageReading | null)[]): InstanceProcess {
  let i = 0;
  return {
    handle: {},
    exited: new Promise(() => undefined),
    pids: async () => [],
    stop: async () => ({ exitStatus: 0, signal: null, event: null }),
    destroy: async () => undefined,
    usage: () => readings[Math.min(i++, readings.length - 1)] ?? null,
  };
}

/** A disk meter that reports fixed figures and counts how often it measured. */
function fakeDisk(bytes: number) {
  const measured: string[] = [];
  const meter = {
    due: (keys: readonly string[]) => keys,
    measure: (key: string, _dir: string, _pids: readonly number[], nowMs: number) => {
      measured.push(key);
      return { bytes, measuredAtMs: nowMs, full: false };
    },
    last: () => null,
    forget: () => undefined,
  } as unknown as DiskMeter;
  return { meter, measured };
}

function running(id: string): Instance {
  const inst = new Instance({ instanceId: id.padEnd(32, '0'), privateInstanceId: 'p', spec: spec(), nowMs: 0 });
  inst.transition('STARTING', 0);
  inst.transition('RUNNING', 0);
  return inst;
}

function monitorOf(watched: Watched[], disk = fakeDisk(MIB).meter) {
  const clock = new VirtualClock(0);
  const kills: [Instance, string][] = [];
  const renices: [readonly number[], number][] = [];
  const monitor = new Monitor({
    clock, logger: silentLogger(), intervalMs: 2000, maxSamples: 3, diskMaxAgeMs: 30_000, disk,
    watched: () => watched,
    overQuota: (i, r) => kills.push([i, r]),
    renice: (p, n) => renices.push([p, n]),
  });
  return { clock, monitor, kills, renices };
}

describe('Monitor', () => {
  it('turns CPU seconds into a fraction of a core over the interval, from the second tick on', async () => {
    const inst = running('a');
    const proc = scripted([
      { cpuSeconds: 10, memBytes: 5 * MIB, pids: [1] },
      { cpuSeconds: 10.5, memBytes: 6 * MIB, pids: [1] },
    ]);
    const { clock, monitor } = monitorOf([{ instance: inst, process: proc, dir: '/x' }]);
    monitor.start();
    await clock.advance(2000);
    expect(inst.usage).toMatchObject({ cpu: 0, memBytes: 5 * MIB, diskBytes: MIB });
    await clock.advance(2000);
    expect(inst.usage?.cpu).toBeCloseTo(0.25);
    expect(inst.usage?.memBytes).toBe(6 * MIB);
  });

  it('keeps only the last max_usage_samples', async () => {
    const inst = running('b');
    const { clock, monitor } = monitorOf([{ instance: inst, process: scripted([{ cpuSeconds: 1, memBytes: MIB, pids: [1] }]), dir: '/x' }]);
    monitor.start();
    await clock.advance(5 * 2000);
    expect(inst.samples).toHaveLength(3);
  });

  it('asks for a quota kill with the reason, and renices a hog one step per tick', async () => {
    const hog = running('c');
    const fat = running('d');
    const { clock, monitor, kills, renices } = monitorOf([
      { instance: hog, process: scripted([0, 2, 4, 6].map((s) => ({ cpuSeconds: s, memBytes: MIB, pids: [7, 8] }))), dir: '/x' },
      { instance: fat, process: scripted([{ cpuSeconds: 0, memBytes: 65 * MIB, pids: [9] }]), dir: '/y' },
    ]);
    monitor.start();
    await clock.advance(3 * 2000);
    expect(kills.map(([i, r]) => [i.instanceId, r.split('.')[0]])).toEqual([
      [fat.instanceId, 'Memory limit of 64M exceeded'],
      [fat.instanceId, 'Memory limit of 64M exceeded'],
      [fat.instanceId, 'Memory limit of 64M exceeded'],
    ]);
    expect(renices).toEqual([
      [[7, 8], 1],
      [[7, 8], 2],
    ]);
  });

  it('never enforces on an instance that is stopping', async () => {
    const inst = running('e');
    inst.transition('STOPPING', 1);
    const { clock, monitor, kills } = monitorOf([{ instance: inst, process: scripted([{ cpuSeconds: 0, memBytes: 500 * MIB, pids: [1] }]), dir: '/x' }]);
    monitor.start();
    await clock.advance(2000);
    expect(kills).toEqual([]);
    expect(inst.usage?.memBytes).toBe(500 * MIB);
  });

  it('reports what its tick cost', async () => {
    const { clock, monitor } = monitorOf([{ instance: running('f'), process: scripted([{ cpuSeconds: 0, memBytes: 1, pids: [1] }]), dir: '/x' }]);
    monitor.start();
    await clock.advance(2000);
    expect(monitor.lastTick()).toMatchObject({ atMs: 2000, instances: 1, diskMeasured: 1 });
    expect(monitor.lastTick()?.wallMs).toBeGreaterThanOrEqual(0);
  });

  it('keeps the costs of its last 16 ticks, oldest first', async () => {
    const { clock, monitor } = monitorOf([{ instance: running('h'), process: scripted([{ cpuSeconds: 0, memBytes: 1, pids: [1] }]), dir: '/x' }]);
    monitor.start();
    await clock.advance(20 * 2000);
    const recent = monitor.recentTicks();
    expect(recent.map((t) => t.atMs)).toEqual(Array.from({ length: 16 }, (_, i) => (i + 5) * 2000));
    expect(recent.at(-1)).toEqual(monitor.lastTick());
  });

  it('splits the CPU of its tick into reading, disk and the rest', async () => {
    const burn = (ms: number) => {
      const total = () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      };
      const until = total() + ms;
      while (total() < until) {
        // spin: CPU the phase must account for
      }
    };
    const proc = scripted([{ cpuSeconds: 0, memBytes: 1, pids: [1] }]);
    const reading = proc.usage!;
    const slow: InstanceProcess = { ...proc, usage: () => (burn(30), reading()) };
    const disk = fakeDisk(MIB);
    const measure = disk.meter.measure.bind(disk.meter);
    disk.meter.measure = (...args: Parameters<DiskMeter['measure']>) => (burn(15), measure(...args));
    const { clock, monitor } = monitorOf([{ instance: running('g'), process: slow, dir: '/x' }], disk.meter);
    monitor.start();
    await clock.advance(2000);
    const t = monitor.lastTick()!;
    expect(t.readCpuMs).toBeGreaterThanOrEqual(29);
    expect(t.readCpuMs).toBeLessThan(t.cpuMs);
    expect(t.diskCpuMs).toBeGreaterThanOrEqual(14);
    expect(t.diskCpuMs).toBeLessThan(29);
    expect(t.cpuMs).toBeGreaterThanOrEqual(t.readCpuMs! + t.diskCpuMs!);
  });
});

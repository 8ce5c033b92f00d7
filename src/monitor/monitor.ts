import type { InstanceProcess, UsageReading } from '../backends/types.js';
import type { Instance } from '../instance/instance.js';
import { APP_OWNED } from '../instance/states.js';
import type { UsageSample } from '../instance/types.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { TickCost } from '../status/source.js';
import { cpuFraction, type CpuReading } from './cpu.js';
import type { DiskFigure, DiskMeter } from './disk-meter.js';
import type { DiskSource } from './disk-source.js';
import { nextNice, quotaBreach } from './quota.js';

/** How many tick costs varz shows besides the last. */
const RECENT_TICKS = 16;

function cpuMsBetween(a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number {
  return (b.user - a.user + b.system - a.system) / 1000;
}

/** One instance the monitor may look at this tick. */
export interface Watched {
  readonly instance: Instance;
  readonly process: InstanceProcess;
  readonly dir: string;
  /** A cheaper way to its disk figure than walking `dir`, when there is one. */
  readonly disk?: DiskSource | null;
}

export interface MonitorDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly maxSamples: number;
  /** Each instance's disk figure is at most this old. */
  readonly diskMaxAgeMs: number;
  readonly disk: DiskMeter;
  watched(): Iterable<Watched>;
  /** Ends an instance over quota (the lifecycle does it); the monitor only decides. */
  overQuota(instance: Instance, reason: string): void;
  /** Elastic memory: the memory quota is a guarantee, not a limit the monitor enforces. */
  readonly memoryIsGuarantee?: boolean;
  renice(pids: readonly number[], nice: number): void;
}

interface Track {
  cpu: CpuReading | null;
  nice: number;
}

/**
 * The periodic pass over every instance with a process (every monitor.interval_ms): CPU, memory, disk,
 * quotas, renice; never overlapping (the next tick is scheduled when one ends), and
 * measuring its own cost.
 */
export class Monitor {
  private readonly tracks = new Map<Instance, Track>();
  private timer: TimerHandle | null = null;
  private last: TickCost | null = null;
  private readonly recent: TickCost[] = [];

  constructor(private readonly deps: MonitorDeps) {}

  start(): void {
    const loop = () => {
      this.tick();
      this.timer = this.deps.clock.after(this.deps.intervalMs, loop);
    };
    this.timer = this.deps.clock.after(this.deps.intervalMs, loop);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  lastTick(): TickCost | null {
    return this.last;
  }

  /** The last RECENT_TICKS ticks' costs, oldest first: their spread, not one figure. */
  recentTicks(): readonly TickCost[] {
    return [...this.recent];
  }

  /**
   * One pass, in three phases whose CPU is measured apart: read every instance's CPU and
   * memory, then the disk of those due, then record the samples and enforce the quotas.
   * Measurement cost comes from performance.now and cpuUsage: the agent's own.
   */
  tick(): TickCost {
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    const nowMs = this.deps.clock.now();
    const watched = [...this.deps.watched()];
    const wallRead = performance.now();
    const readings = watched.map((w) => w.process.usage?.() ?? null);
    const readWallMs = performance.now() - wallRead;
    const cpuRead = process.cpuUsage();
    const due = new Set(this.deps.disk.due(watched.map((w) => w.instance.localId), nowMs, this.deps.diskMaxAgeMs));
    const wallDisk = performance.now();
    const disks = watched.map((w, i) => {
      const reading = readings[i];
      if (!reading) return null; // gone, or not readable: nothing is recorded for it this tick
      return due.has(w.instance.localId) ? this.figureOf(w, reading.pids, nowMs) : this.deps.disk.last(w.instance.localId);
    });
    const diskWallMs = performance.now() - wallDisk;
    const cpuDisk = process.cpuUsage();
    watched.forEach((w, i) => {
      const reading = readings[i];
      if (reading) this.record(w, reading, disks[i] ?? null, nowMs);
    });
    this.prune(watched);
    const cpuEnd = process.cpuUsage();
    this.last = {
      atMs: nowMs,
      wallMs: performance.now() - wall0,
      cpuMs: cpuMsBetween(cpu0, cpuEnd),
      readCpuMs: cpuMsBetween(cpu0, cpuRead),
      readWallMs,
      diskCpuMs: cpuMsBetween(cpuRead, cpuDisk),
      instances: watched.length,
      diskWallMs,
      diskMeasured: due.size,
    };
    this.recent.push(this.last);
    if (this.recent.length > RECENT_TICKS) this.recent.shift();
    return this.last;
  }

  private record(w: Watched, reading: UsageReading, disk: DiskFigure | null, nowMs: number): void {
    const track = this.track(w.instance);
    const now = { ticks: reading.cpuSeconds, atMs: nowMs };
    const cpu = cpuFraction(track.cpu, now, 1);
    track.cpu = now;
    const sample = { time: nowMs, cpu, memBytes: reading.memBytes, diskBytes: disk?.bytes ?? 0, container: reading.container };
    w.instance.recordUsage(sample, this.deps.maxSamples);
    this.enforce(w, track, sample, reading.pids);
  }

  private enforce(w: Watched, track: Track, sample: UsageSample, pids: readonly number[]): void {
    if (!APP_OWNED.has(w.instance.state)) return;
    const breach = quotaBreach(w.instance.spec.limits, sample, this.deps.memoryIsGuarantee);
    if (breach !== null) {
      this.deps.overQuota(w.instance, breach);
      return;
    }
    const nice = nextNice(track.nice, sample.cpu);
    if (nice !== null) {
      track.nice = nice;
      this.deps.renice(pids, nice);
      this.deps.logger.debug({ event: 'instance.reniced', instance_id: w.instance.instanceId, nice }, 'cpu hog reniced');
    }
  }

  private figureOf(w: Watched, pids: readonly number[], nowMs: number): DiskFigure {
    const src = w.disk;
    const key = w.instance.localId;
    if (!src) return this.deps.disk.measure(key, w.dir, pids, nowMs);
    if (src.kind === 'walk') {
      const upper = this.deps.disk.measure(key, src.walk, pids, nowMs, src.seenAs);
      return { ...upper, bytes: upper.bytes + src.baseBytes };
    }
    // Not mounted (any more): measure the directory the slow way rather than report 0.
    return this.deps.disk.measureFs(key, src.path, src.baseBytes, nowMs) ?? this.deps.disk.measure(key, w.dir, pids, nowMs);
  }

  private track(inst: Instance): Track {
    let t = this.tracks.get(inst);
    if (!t) {
      t = { cpu: null, nice: 0 };
      this.tracks.set(inst, t);
    }
    return t;
  }

  private prune(watched: readonly Watched[]): void {
    const live = new Set(watched.map((w) => w.instance));
    for (const inst of this.tracks.keys()) {
      if (live.has(inst)) continue;
      this.tracks.delete(inst);
      this.deps.disk.forget(inst.localId);
    }
  }
}

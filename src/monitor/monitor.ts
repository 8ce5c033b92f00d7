import type { InstanceProcess } from '../backends/types.js';
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
  private diskWallMs = 0;

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

  /** One pass. Measurement cost comes from performance.now and cpuUsage: the agent's own. */
  tick(): TickCost {
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    const nowMs = this.deps.clock.now();
    const watched = [...this.deps.watched()];
    const due = new Set(this.deps.disk.due(watched.map((w) => w.instance.localId), nowMs, this.deps.diskMaxAgeMs));
    this.diskWallMs = 0;
    for (const w of watched) this.sample(w, nowMs, due.has(w.instance.localId));
    this.prune(watched);
    const cpu = process.cpuUsage(cpu0);
    this.last = {
      atMs: nowMs,
      wallMs: performance.now() - wall0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      instances: watched.length,
      diskWallMs: this.diskWallMs,
      diskMeasured: due.size,
    };
    return this.last;
  }

  private sample(w: Watched, nowMs: number, measureDisk: boolean): void {
    const reading = w.process.usage?.();
    if (!reading) return;
    const track = this.track(w.instance);
    const now = { ticks: reading.cpuSeconds, atMs: nowMs };
    const cpu = cpuFraction(track.cpu, now, 1);
    track.cpu = now;
    const disk = measureDisk ? this.measureDisk(w, reading.pids, nowMs) : this.deps.disk.last(w.instance.localId);
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

  private measureDisk(w: Watched, pids: readonly number[], nowMs: number) {
    const t = performance.now();
    const figure = this.figureOf(w, pids, nowMs);
    this.diskWallMs += performance.now() - t;
    return figure;
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

import type { Bus, BusMessage, Subscription } from '../bus/types.js';
import type { AgentConfig } from '../config/types.js';
import { MessageError } from '../errors.js';
import { InstanceRegistry } from '../instance/registry.js';
import { LIVE, STOPPABLE } from '../instance/states.js';
import { InstanceLifecycle } from '../lifecycle/lifecycle.js';
import type { LifecycleDeps } from '../lifecycle/ports.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import type { IdGenerator } from '../platform/ids.js';
import { appFiles } from '../platform/app-files.js';
import type { Logger } from '../platform/logger.js';
import * as P from '../protocol/index.js';
import { RouterClient } from '../router/router-client.js';
import type { Layout } from '../staging/layout.js';
import { stagedFiles } from '../staging/staged-files.js';
import type { AgentContext } from './context.js';
import { reapCrashes } from './crash-reaper.js';
import * as H from './handlers.js';
import { Reporter } from './reporter.js';
import { transitionEffects } from './wiring.js';
import { adoptSnapshot, type Adopted } from './adoption.js';
import { Evacuation, type EvacuationEnd } from './evacuation.js';
import { reapStuckStops, STOP_REAP_INTERVAL_MS } from './stop-reaper.js';
import { entryOf, SnapshotWriter, usageHistoryText, USAGE_HISTORY_EVERY_TICKS, type SnapshotEntry, type SnapshotSink } from '../snapshot/index.js';
import type { UsageSample } from '../instance/types.js';

export interface AgentDeps {
  readonly id: string;
  readonly config: AgentConfig;
  readonly bus: Bus;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly logger: Logger;
  readonly layout: Layout;
  /**
   * The composition root passes every port. The file ports may be left out, then they
   * are the real file system: the agent's unit tests use real instance directories.
   */
  readonly lifecycle: Omit<LifecycleDeps, 'config' | 'clock' | 'logger' | 'layout' | FilePorts> & Partial<Pick<LifecycleDeps, FilePorts>>;
  /** Removes cached droplets no instance uses. */
  readonly reapDroplets: (inUse: ReadonlySet<string>) => Promise<unknown>;
  /** Where the snapshot goes (db/instances.json); none in unit tests that need none. */
  readonly snapshot?: SnapshotSink;
  /** Where the monitor's recent samples go (db/usage.json), every few ticks. */
  readonly usageHistory?: SnapshotSink;
  /** Signs `file_uri_v2` for `dea.find.droplet` (protocol §11.5); none: replies carry null. */
  readonly fileUri?: (instanceId: string, path: string | null) => string | null;
}

type FilePorts = 'stagedFiles' | 'appFiles';

const CRASH_REAP_MS = 10_000;
const DROPLET_REAP_MS = 60_000;
/** Instance logs are checked for rotation every this many monitor intervals. */
const ROTATE_EVERY = 5;

/** dea_ng reaped crashes every 10 s; a shorter lifetime is honoured within half of itself. */
export function crashReapIntervalMs(lifetimeSecs: number): number {
  return Math.min(CRASH_REAP_MS, Math.max(500, (lifetimeSecs * 1000) / 2));
}

/**
 * The agent: routes bus messages to use cases and keeps the periodic reports going.
 * It does not spawn processes, touch instance files or set instance state itself.
 */
export class Agent {
  readonly registry = new InstanceRegistry();
  readonly ctx: AgentContext;
  private readonly subs: Subscription[] = [];
  private readonly timers: TimerHandle[] = [];
  private stopping: Promise<void> | null = null;
  private rotateRound = 0;
  private componentInfo: P.ComponentInfo | null = null;
  private readonly snapshot: SnapshotWriter | null;
  /** The last usage history written held no instance. */
  private usageHistoryEmpty = false;
  private readonly evacuation: Evacuation;

  constructor(private readonly deps: AgentDeps) {
    const { config, bus, clock, logger } = deps;
    const reporter = new Reporter(bus, this.registry, {
      id: deps.id,
      ip: config.localIp,
      stacks: config.stacks,
      zone: config.placementProperties.zone,
      resources: config.resources,
    }, clock);
    const router = new RouterClient(bus, { deaId: deps.id, host: config.localIp, index: config.index }, logger);
    this.snapshot = deps.snapshot ? new SnapshotWriter(deps.snapshot, () => this.snapshotEntries(), clock, logger) : null;
    const persist = () => this.snapshot?.schedule();
    const lifecycle = new InstanceLifecycle({
      ...deps.lifecycle,
      launched: persist,
      stagedFiles: deps.lifecycle.stagedFiles ?? stagedFiles,
      appFiles: deps.lifecycle.appFiles ?? appFiles,
      config, clock, logger, layout: deps.layout,
    });
    this.evacuation = new Evacuation({
      registry: this.registry, clock, logger,
      bailOutMs: config.evacuationBailOutTimeSecs * 1000,
      leavePlacement: () => this.leavePlacement(),
      evacuate: (inst) => lifecycle.evacuate(inst),
    });
    const onTransition = transitionEffects({
      reporter,
      router,
      logger,
      forget: (t) => this.registry.remove(t.instance),
      persist,
      persistNow: () => this.snapshot?.writeNow(),
      evacuation: this.evacuation,
    });
    this.ctx = {
      id: deps.id, config, bus, clock, ids: deps.ids, logger, registry: this.registry, lifecycle, router, reporter, onTransition,
      shuttingDown: () => this.stopping !== null,
      evacuating: () => this.evacuation.active,
      component: () => this.componentInfo,
      ...(deps.fileUri ? { fileUri: deps.fileUri } : {}),
    };
  }

  /**
   * Adopts what an earlier agent's snapshot describes, before start(): running instances
   * come back RUNNING (routes registered, a heartbeat sent), ended ones CRASHED.
   */
  async adopt(entries: readonly SnapshotEntry[], history: ReadonlyMap<string, readonly UsageSample[]> = new Map()): Promise<Adopted> {
    const adopted = await adoptSnapshot(this.ctx, entries, history);
    this.snapshot?.writeNow();
    return adopted;
  }

  /** Subscribes, says hello and starts the timers (protocol §2.3, v2-classic order). */
  start(): void {
    const { ctx } = this;
    this.on(P.Subjects.start(ctx.id), (m) => H.handleStart(ctx, m));
    this.on(P.DEA_STOP, (m) => H.handleStop(ctx, m));
    this.on(P.DEA_UPDATE, (m) => H.handleUpdate(ctx, m));
    this.on(P.DEA_FIND_DROPLET, (m) => H.handleFind(ctx, m));
    this.on(P.DEA_STATUS, (m) => H.handleStatus(ctx, m));
    this.on(P.DEA_LOCATE, () => ctx.reporter.advertise());
    this.on(P.ROUTER_START, () => ctx.router.registerAll(this.registry));
    this.on(P.HEALTHMANAGER_START, () => ctx.reporter.heartbeat());
    this.on(P.COMPONENT_DISCOVER, (m) => H.handleDiscover(ctx, m));
    const { intervals, crashLifetimeSecs } = ctx.config;
    this.every(intervals.heartbeatMs, () => ctx.reporter.heartbeat());
    this.every(intervals.advertiseMs, () => ctx.reporter.advertise());
    this.every(intervals.routerRegisterMs, () => ctx.router.registerAll(this.registry));
    this.every(crashReapIntervalMs(crashLifetimeSecs), () =>
      reapCrashes(this.registry, this.deps.layout, ctx.clock.now(), crashLifetimeSecs * 1000, ctx.logger),
    );
    this.every(STOP_REAP_INTERVAL_MS, () => reapStuckStops(this.registry, ctx.lifecycle, ctx.clock.now(), ctx.logger));
    this.every(DROPLET_REAP_MS, () => this.deps.reapDroplets(this.dropletsInUse()));
    this.every(ctx.config.monitor.intervalMs, () => this.rotateLogs());
    this.every(ctx.config.monitor.intervalMs * USAGE_HISTORY_EVERY_TICKS, () => this.writeUsageHistory());
    ctx.router.registerAll(this.registry);
    ctx.reporter.hello();
    ctx.reporter.advertise();
    ctx.reporter.heartbeat();
    ctx.logger.info({ event: 'agent.started', id: ctx.id }, 'agent started');
  }

  /** The status server is up: announce it (vcap-common §10). */
  announce(info: P.ComponentInfo): void {
    this.componentInfo = info;
    this.ctx.bus.publish(P.COMPONENT_ANNOUNCE, P.componentAnnounce(info));
  }

  /** USR1: leave placement but keep running. */
  leavePlacement(): void {
    this.ctx.reporter.stopAdvertising();
    this.ctx.reporter.goodbye();
  }

  /**
   * USR2 (protocol §11.2): goodbye, no more adverts, every RUNNING instance EVACUATING;
   * heartbeats and route re-registration go on. Resolves when the evacuation is over
   * (see `evacuated`); the caller then shuts the agent down.
   */
  evacuate(): Promise<EvacuationEnd> {
    if (this.stopping === null) this.evacuation.begin();
    return this.evacuation.ended;
  }

  /** Resolves when an evacuation is over: nothing left to move, or its bail-out time passed. */
  get evacuated(): Promise<EvacuationEnd> {
    return this.evacuation.ended;
  }

  /** Graceful shutdown (protocol §11.3): goodbye, unsubscribe, stop every instance. */
  shutdown(): Promise<void> {
    this.stopping ??= this.runShutdown();
    return this.stopping;
  }

  private async runShutdown(): Promise<void> {
    const { ctx } = this;
    ctx.logger.info({ event: 'agent.shutdown.started' }, 'shutting down');
    this.evacuation.cancel();
    this.leavePlacement();
    for (const t of this.timers.splice(0)) t.cancel();
    for (const s of this.subs.splice(0)) s.unsubscribe();
    await Promise.all(this.registry.inStates(STOPPABLE).map((i) => ctx.lifecycle.stop(i)));
    await ctx.bus.flush().catch(() => undefined);
    ctx.logger.info({ event: 'agent.shutdown.finished' }, 'shutdown finished');
  }

  private snapshotEntries(): SnapshotEntry[] {
    const kind = this.deps.lifecycle.backend.kind;
    return this.registry.all().map((i) => entryOf(i, kind, this.ctx.lifecycle.process(i)?.handle ?? null));
  }

  private writeUsageHistory(): void {
    const sink = this.deps.usageHistory;
    if (!sink) return;
    const live = this.registry.inStates(LIVE);
    // An idle agent need not fsync the same empty history every few ticks.
    if (live.length === 0 && this.usageHistoryEmpty) return;
    this.usageHistoryEmpty = live.length === 0;
    try {
      sink.write(usageHistoryText(live, this.ctx.clock.now()));
    } catch (err) {
      this.ctx.logger.warn({ event: 'usage_history.write.failed', err: String(err) }, 'usage history not written');
    }
  }

  /**
   * Each instance's logs are looked at every ROTATE_EVERY-th monitor interval, a fifth of
   * the instances at a time (an lstat each costs a Stats object: at 500 instances every
   * 2 s they were the agent's largest source of garbage). A log may pass its cap by what
   * the app writes in that time (10 s at the default interval).
   */
  private rotateLogs(): void {
    const max = this.ctx.config.instance.logMaxBytes;
    const round = this.rotateRound++ % ROTATE_EVERY;
    for (const inst of this.registry.inStates(LIVE)) {
      if (inst.localId.charCodeAt(inst.localId.length - 1) % ROTATE_EVERY !== round) continue;
      const rotated = this.ctx.lifecycle.rotateLogs(inst, max);
      if (rotated.length > 0) this.ctx.logger.info({ event: 'instance.logs.rotated', instance_id: inst.instanceId, files: rotated }, 'logs rotated');
    }
  }

  private dropletsInUse(): Set<string> {
    const inUse = new Set<string>();
    for (const i of this.registry.all()) if (i.dropletSha1) inUse.add(i.dropletSha1);
    return inUse;
  }

  /** A bad message or a failing handler is logged and dropped; the agent serves on. */
  private on(subject: string, handler: (m: BusMessage) => void | Promise<void>): void {
    const log = this.ctx.logger;
    this.subs.push(
      this.ctx.bus.subscribe(subject, async (msg) => {
        try {
          await handler(msg);
        } catch (err) {
          if (err instanceof MessageError) {
            log.warn({ event: 'bus.message.invalid', subject: msg.subject, problems: err.problems }, err.message);
          } else {
            log.error({ event: 'bus.handler.failed', subject: msg.subject, err: String(err) }, 'handler failed');
          }
        }
      }),
    );
  }

  private every(ms: number, fn: () => unknown): void {
    this.timers.push(
      this.ctx.clock.every(ms, () => {
        Promise.resolve()
          .then(fn)
          .catch((err: unknown) => this.ctx.logger.error({ event: 'agent.timer.failed', err: String(err) }, 'timer failed'));
      }),
    );
  }
}

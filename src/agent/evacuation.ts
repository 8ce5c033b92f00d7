import type { Instance } from '../instance/instance.js';
import type { InstanceRegistry } from '../instance/registry.js';
import { EVACUATION_WAITS_ON } from '../instance/states.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';

export interface EvacuationDeps {
  readonly registry: InstanceRegistry;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `evacuation_bail_out_time_in_seconds`, in ms. */
  readonly bailOutMs: number;
  /** Goodbye and no more adverts: the controller places nothing more here. */
  leavePlacement(): void;
  /** RUNNING → EVACUATING, through the lifecycle (the only caller of transitions). */
  evacuate(inst: Instance): void;
}

export type EvacuationEnd = 'evacuated' | 'bail_out' | 'shutdown';

/**
 * USR2 (protocol §11.2): the agent leaves placement and marks its instances EVACUATING.
 * They keep serving, heartbeating and holding their routes, so the health manager starts
 * replacements elsewhere and then has the controller stop them here. The evacuation is
 * over when no instance is left that could still serve, or when the bail-out time has
 * passed; the agent then shuts down, which stops what remains.
 *
 * Nothing here publishes or changes state by itself: the transitions it asks for carry
 * their side effects (wiring.ts), and wiring tells it of every transition (`check`).
 */
export class Evacuation {
  private begun = false;
  private over = false;
  private bailOut: TimerHandle | null = null;
  private resolveEnded!: (how: EvacuationEnd) => void;
  /** Resolves once the evacuation is over; never if none begins. */
  readonly ended: Promise<EvacuationEnd> = new Promise((resolve) => {
    this.resolveEnded = resolve;
  });

  constructor(private readonly deps: EvacuationDeps) {}

  /** Between USR2 and the end: starts are refused, finished starts join the evacuation. */
  get active(): boolean {
    return this.begun && !this.over;
  }

  begin(): void {
    const { logger, registry } = this.deps;
    if (this.begun) {
      // dea_ng's drain script repeats USR2 every 5 s; one evacuation is enough for us.
      logger.info({ event: 'agent.evacuation.repeated' }, 'already evacuating');
      return;
    }
    this.begun = true;
    this.deps.leavePlacement();
    const running = registry.all().filter((i) => i.state === 'RUNNING');
    const starting = registry.all().filter((i) => i.state === 'STARTING').length;
    logger.info(
      { event: 'agent.evacuation.started', instances: running.length, starting, bail_out_secs: this.deps.bailOutMs / 1000 },
      `evacuating ${running.length} instances`,
    );
    for (const inst of running) this.deps.evacuate(inst);
    this.bailOut = this.deps.clock.after(this.deps.bailOutMs, () => this.end('bail_out'));
    this.check();
  }

  /**
   * An instance that finished starting during the evacuation: it leaves as well (it was
   * left STARTING at USR2 so that its start could end either healthy or crashed).
   */
  joined(inst: Instance): void {
    if (this.active) this.deps.evacuate(inst);
  }

  /** After every transition: over once nothing is left that could still serve. */
  check(): void {
    if (!this.active) return;
    if (this.deps.registry.all().some((i) => EVACUATION_WAITS_ON.has(i.state))) return;
    this.end('evacuated');
  }

  /** A TERM during the evacuation: the shutdown takes over. */
  cancel(): void {
    if (this.active) this.end('shutdown');
  }

  private end(how: EvacuationEnd): void {
    if (this.over) return;
    this.over = true;
    this.bailOut?.cancel();
    const remaining = this.deps.registry.all().filter((i) => EVACUATION_WAITS_ON.has(i.state)).length;
    const level = how === 'bail_out' ? 'warn' : 'info';
    this.deps.logger[level]({ event: 'agent.evacuation.finished', how, remaining }, `evacuation over (${how}): ${remaining} instances left to stop`);
    this.resolveEnded(how);
  }
}

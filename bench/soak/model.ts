/** What the soak believes exists, and every way the agent disagreed with it. */

export type TrackedState = 'RUNNING' | 'CRASHED' | 'STOPPED';

export interface Tracked {
  app: string;
  index: number;
  /** The agent's instance id (dea.find.droplet `instance`). */
  instance: string;
  port: number;
  /** The app's per-process random id: a different one means it was started twice. */
  boot: string;
  /** The app's own pid, as it reported it. */
  pid: number;
  state: TrackedState;
  /** How many droplet.exited (CRASHED) the soak expects for it: 1 once it crashed it. */
  expectedExits: number;
}

export interface Discrepancy {
  at: string;
  cycle: number;
  what: string;
}

export class Model {
  readonly instances = new Map<string, Tracked>();
  readonly discrepancies: Discrepancy[] = [];
  /** When each nats-server restart began (ms since the epoch). */
  readonly natsRestarts: number[] = [];
  /**
   * Crash reports that arrived twice because the nats-server they went to was stopped
   * before it confirmed them: the bus sends such a message again (at least once, never
   * lost). Counted apart from discrepancies, and printed.
   */
  readonly resent: string[] = [];
  cycle = 0;
  private apps = 0;

  constructor(readonly seed: number) {}

  /** Distinct app ids, so every instance's messages are told apart. */
  nextApp(): string {
    return `soak-${this.seed}-${++this.apps}`;
  }

  add(t: Tracked): void {
    this.instances.set(t.instance, t);
  }

  inState(state: TrackedState): Tracked[] {
    return [...this.instances.values()].filter((t) => t.state === state);
  }

  discrepancy(what: string): void {
    const d = { at: new Date().toISOString(), cycle: this.cycle, what };
    this.discrepancies.push(d);
    process.stderr.write(`[soak] DISCREPANCY (cycle ${d.cycle}): ${what}\n`);
  }
}

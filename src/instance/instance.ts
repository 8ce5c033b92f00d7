import { canTransition, TransitionError } from './states.js';
import type { InstanceState, InstanceView, StartSpec, UsageSample } from './types.js';

export interface Transition {
  readonly instance: Instance;
  readonly from: InstanceState;
  readonly to: InstanceState;
}

export type TransitionListener = (t: Transition) => void;

/** What a snapshot keeps of an instance (see snapshot/format.ts). */
export interface RestoredFields {
  readonly instanceId: string;
  readonly localId: string;
  readonly privateInstanceId: string;
  readonly spec: StartSpec;
  readonly stateTimestamp: number;
  readonly startingTimestamp: number | null;
  readonly uris: readonly string[];
  readonly version: string | null;
  readonly hostPort: number | null;
  readonly dropletSha1: string | null;
  readonly exitStatus: number;
  readonly exitDescription: string;
  readonly crashTimestamp: number | null;
}

export interface InstanceInit {
  readonly instanceId: string;
  readonly privateInstanceId: string;
  readonly spec: StartSpec;
  readonly nowMs: number;
}

/**
 * An application instance: its identity, the start message it came from, and the
 * state the transition table allows. Pure in-memory; no I/O, no timers. Only the
 * lifecycle module (and snapshot restore) calls `transition`.
 */
export class Instance implements InstanceView {
  readonly privateInstanceId: string;
  readonly spec: StartSpec;
  /** The public id; dea.update may replace it (protocol §3.3). */
  instanceId: string;
  /** The id the instance was born with: names its directories for its whole life. */
  readonly localId: string;
  state: InstanceState = 'BORN';
  stateTimestamp: number;
  startingTimestamp: number | null = null;
  uris: readonly string[];
  version: string | null;
  hostPort: number | null = null;
  /** The droplet's SHA-1 once known (a message may omit it; the download names it). */
  dropletSha1: string | null;
  exitStatus = -1;
  exitDescription = '';
  crashTimestamp: number | null = null;
  usage: UsageSample | null = null;
  readonly samples: UsageSample[] = [];
  private readonly listeners: TransitionListener[];

  constructor(init: InstanceInit, listeners: TransitionListener[] = []) {
    this.instanceId = init.instanceId;
    this.localId = init.instanceId;
    this.privateInstanceId = init.privateInstanceId;
    this.spec = init.spec;
    this.stateTimestamp = init.nowMs;
    this.uris = init.spec.uris;
    this.version = init.spec.applicationVersion;
    this.dropletSha1 = init.spec.dropletSha1;
    this.listeners = listeners;
  }

  /**
   * An instance an earlier agent left, as its snapshot describes it, in `state` (RESUMING
   * while it is being adopted, or CRASHED for a crash record). No listener hears this:
   * nothing happened, the instance only came back into view.
   */
  static restore(saved: RestoredFields, state: InstanceState, listeners: TransitionListener[] = []): Instance {
    const inst = new Instance({ instanceId: saved.localId, privateInstanceId: saved.privateInstanceId, spec: saved.spec, nowMs: saved.stateTimestamp }, listeners);
    inst.instanceId = saved.instanceId;
    inst.state = state;
    inst.startingTimestamp = saved.startingTimestamp;
    inst.uris = saved.uris;
    inst.version = saved.version;
    inst.hostPort = saved.hostPort;
    inst.dropletSha1 = saved.dropletSha1;
    inst.exitStatus = saved.exitStatus;
    inst.exitDescription = saved.exitDescription;
    inst.crashTimestamp = saved.crashTimestamp;
    return inst;
  }

  /** Moves to `to` if the table allows it, stamps the time, then tells the listeners. */
  transition(to: InstanceState, nowMs: number): void {
    const from = this.state;
    if (!canTransition(from, to)) throw new TransitionError(from, to);
    this.state = to;
    this.stateTimestamp = nowMs;
    if (to === 'STARTING') this.startingTimestamp = nowMs;
    if (to === 'CRASHED') this.crashTimestamp = nowMs;
    for (const listener of this.listeners) listener({ instance: this, from, to });
  }

  /** Records how the process ended; kept as data so every report can carry it. */
  recordExit(exitStatus: number, exitDescription: string): void {
    this.exitStatus = exitStatus;
    this.exitDescription = exitDescription;
  }

  recordUsage(sample: UsageSample, maxSamples: number): void {
    this.usage = sample;
    this.samples.push(sample);
    if (this.samples.length > maxSamples) this.samples.splice(0, this.samples.length - maxSamples);
  }
}

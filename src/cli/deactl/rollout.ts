/**
 * Follows the instances one push (or scale) started until each is RUNNING or CRASHED, or
 * its agent is gone: heartbeats (sent at once on RUNNING), `droplet.exited` (the crash and
 * its exit_description), and a `dea.find.droplet` poll for what neither reports (STARTING).
 * An agent that says goodbye, or stops advertising, loses the instances it had not settled.
 */
import { DEA_ADVERTISE, DEA_FIND_DROPLET, DEA_HEARTBEAT, DEA_SHUTDOWN, DROPLET_EXITED } from '../../protocol/index.js';
import { shortId } from './fleet.js';
import type { Session } from './session.js';
import type { Subscription } from 'nats';

export type Outcome = 'SENT' | 'STARTING' | 'RUNNING' | 'CRASHED' | 'LOST' | 'TIMEOUT';

export interface Tracked {
  readonly index: number;
  readonly agentId: string;
  state: Outcome;
  instanceId: string | null;
  detail: string | null;
  /** When a report first said CRASHED: droplet.exited, with the reason, should follow. */
  crashSeenAt: number | null;
}

const SETTLED: ReadonlySet<Outcome> = new Set(['RUNNING', 'CRASHED', 'LOST', 'TIMEOUT']);
/** Twice the agents' advert interval (5 s) and more than their heartbeat's (10 s). */
const SILENT_AGENT_MS = 12_000;
const POLL_MS = 1_000;
/** How long a CRASHED seen in a heartbeat or poll waits for its droplet.exited. */
const EXIT_REPORT_WAIT_MS = 3_000;

export class Rollout {
  private readonly tracked = new Map<number, Tracked>();
  private readonly lastHeard = new Map<string, number>();
  private readonly subs: Subscription[] = [];
  private readonly poller: NodeJS.Timeout;
  private wake: () => void = () => undefined;

  constructor(
    private readonly session: Session,
    private readonly app: string,
    private readonly version: string,
    private readonly say: (line: string) => void,
    /** Instances that were there before (a scale's crashed ones of the same version). */
    private readonly earlier: ReadonlySet<string> = new Set(),
  ) {
    this.subs.push(
      session.listen(DEA_HEARTBEAT, (m) => this.onHeartbeat(m.data)),
      session.listen(DROPLET_EXITED, (m) => this.onExited(m.data)),
      session.listen(DEA_ADVERTISE, (m) => this.heard(m.data?.id)),
      session.listen(DEA_SHUTDOWN, (m) => this.onGoodbye(m.data?.id)),
    );
    this.poller = setInterval(() => void this.poll(), POLL_MS);
  }

  /** Subscriptions reach the server before any start goes out. */
  ready(): Promise<void> {
    return this.session.flush();
  }

  track(index: number, agentId: string): void {
    this.tracked.set(index, { index, agentId, state: 'SENT', instanceId: null, detail: null, crashSeenAt: null });
    this.heard(agentId);
  }

  get(index: number): Tracked | undefined {
    return this.tracked.get(index);
  }

  /** Resolves when every given index has settled, or marks the rest TIMEOUT at the deadline. */
  async settle(indices: readonly number[], timeoutMs: number): Promise<Tracked[]> {
    const deadline = Date.now() + timeoutMs;
    const pending = () => indices.map((i) => this.tracked.get(i)!).filter((t) => !SETTLED.has(t.state));
    while (pending().length > 0) {
      this.checkSilentAgents();
      this.checkUnreportedCrashes();
      if (Date.now() >= deadline) {
        for (const t of pending()) this.update(t, 'TIMEOUT', `still ${t.state} after ${Math.round(timeoutMs / 1000)} s`);
        break;
      }
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 500);
      });
    }
    return indices.map((i) => this.tracked.get(i)!);
  }

  close(): void {
    clearInterval(this.poller);
    for (const s of this.subs) s.unsubscribe();
  }

  private heard(id: unknown): void {
    if (typeof id === 'string') this.lastHeard.set(id, Date.now());
  }

  private mine(entry: any): Tracked | undefined {
    if (entry?.droplet !== this.app || entry.version !== this.version || typeof entry.index !== 'number') return undefined;
    if (typeof entry.instance === 'string' && this.earlier.has(entry.instance)) return undefined;
    return this.tracked.get(entry.index);
  }

  private onHeartbeat(hb: any): void {
    this.heard(hb?.dea);
    if (!Array.isArray(hb?.droplets)) return;
    for (const e of hb.droplets) {
      const t = this.mine(e);
      if (t && t.agentId === hb.dea) this.observe(t, e.state, e.instance);
    }
  }

  private onExited(ex: any): void {
    const t = this.mine(ex);
    if (!t || ex.reason !== 'CRASHED') return;
    if (typeof ex.instance === 'string') t.instanceId = ex.instance;
    this.update(t, 'CRASHED', typeof ex.exit_description === 'string' ? ex.exit_description : 'crashed');
  }

  private onGoodbye(id: unknown): void {
    for (const t of this.tracked.values()) {
      if (t.agentId === id && !SETTLED.has(t.state)) this.update(t, 'LOST', `agent ${shortId(t.agentId)} shut down before the instance was RUNNING`);
    }
  }

  private checkSilentAgents(): void {
    const now = Date.now();
    for (const t of this.tracked.values()) {
      const heard = this.lastHeard.get(t.agentId) ?? now;
      if (!SETTLED.has(t.state) && now - heard > SILENT_AGENT_MS) {
        this.update(t, 'LOST', `agent ${shortId(t.agentId)} stopped answering (nothing from it for ${SILENT_AGENT_MS / 1000} s)`);
      }
    }
  }

  private checkUnreportedCrashes(): void {
    for (const t of this.tracked.values()) {
      if (!SETTLED.has(t.state) && t.crashSeenAt !== null && Date.now() - t.crashSeenAt > EXIT_REPORT_WAIT_MS) {
        this.update(t, 'CRASHED', 'crashed (its droplet.exited report was not seen)');
      }
    }
  }

  private async poll(): Promise<void> {
    const open = [...this.tracked.values()].filter((t) => !SETTLED.has(t.state));
    if (open.length === 0) return;
    const replies = await this.session.collect(DEA_FIND_DROPLET, { droplet: this.app, version: this.version }, { maxMs: 800, expect: this.tracked.size });
    for (const r of replies) {
      this.heard(r?.dea);
      const t = this.mine(r);
      if (t && t.agentId === r.dea) this.observe(t, r.state, r.instance);
    }
  }

  private observe(t: Tracked, state: unknown, instance: unknown): void {
    if (typeof instance === 'string') t.instanceId = instance;
    if (state === 'STARTING' && t.state === 'SENT') this.update(t, 'STARTING', null);
    else if (state === 'RUNNING' && !SETTLED.has(t.state)) this.update(t, 'RUNNING', null);
    // No description here: droplet.exited brings it (checkUnreportedCrashes if it never does).
    else if (state === 'CRASHED' && !SETTLED.has(t.state)) t.crashSeenAt ??= Date.now();
  }

  private update(t: Tracked, state: Outcome, detail: string | null): void {
    t.state = state;
    t.detail = detail;
    this.say(`  instance ${t.index} on ${shortId(t.agentId)}: ${state}${detail ? `: ${detail}` : ''}`);
    this.wake();
  }
}

import type { Clock, TimerHandle } from '../../src/platform/clock.js';

interface Timer {
  at: number;
  seq: number;
  readonly fn: () => void;
  /** Set for `every` timers: the period they come back after. */
  readonly periodMs: number | null;
  cancelled: boolean;
}

/**
 * A Clock that only moves when a test says so. `advance(ms)` runs every timer that falls
 * due within the window, in due order (ties in scheduling order), and lets pending
 * microtasks run between timers, so promise chains started by one timer settle before
 * the next fires. Timers scheduled while advancing run too if they fall inside the window.
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): TimerHandle {
    return this.schedule(ms, fn, null);
  }

  every(ms: number, fn: () => void): TimerHandle {
    return this.schedule(ms, fn, Math.max(1, ms));
  }

  /** Timers waiting to fire. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Runs everything due up to now + ms, then leaves the clock at now + ms. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`cannot advance by ${ms} ms`);
    const target = this.t + ms;
    for (;;) {
      await settle();
      const next = this.nextDue(target);
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      if (next.periodMs === null) {
        next.cancelled = true;
      } else {
        next.at += next.periodMs;
        next.seq = this.seq++; // comes back behind timers already due at the same time
      }
      this.timers = this.timers.filter((t) => !t.cancelled);
      next.fn();
    }
    this.t = target;
    await settle();
  }

  /** Lets pending microtasks (and anything they chain) run without moving time. */
  async flush(): Promise<void> {
    await settle();
  }

  /**
   * Advances in steps of `stepMs` until `promise` settles, yielding to real I/O between
   * steps (for code that mixes timers with file system calls). Throws after `maxMs` of
   * virtual time so a test that never settles fails instead of hanging.
   */
  async runUntilSettled<T>(promise: Promise<T>, opts: { stepMs?: number; maxMs?: number } = {}): Promise<T> {
    const stepMs = opts.stepMs ?? 100;
    const maxMs = opts.maxMs ?? 10 * 60_000;
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const start = this.t;
    while (!settled) {
      if (this.t - start > maxMs) throw new Error(`promise did not settle within ${maxMs} virtual ms`);
      await this.advance(stepMs);
      await new Promise((r) => setTimeout(r, 0));
    }
    return watched;
  }

  private schedule(ms: number, fn: () => void, periodMs: number | null): TimerHandle {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, periodMs, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  private nextDue(target: number): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) {
      if (t.cancelled || t.at > target) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** One macrotask turn: every queued microtask (and those they queue) runs first. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Acts on a short elastic pool: picks the instance furthest above its guarantee
 * (reclaim.ts) from fresh readings and has it killed, one at a time: a pool that is
 * still short once that instance is gone gets the next one at the next poll.
 */
import type { Logger } from '../platform/logger.js';
import { chooseVictim, reclaimDescription, type ReclaimCandidate } from './reclaim.js';

export interface ReclaimTarget<T> {
  readonly subject: T;
  readonly candidate: ReclaimCandidate;
}

export interface ReclaimerDeps<T> {
  /** Every instance that holds pool memory, measured now. */
  candidates(): ReclaimTarget<T>[];
  /** Ends the instance as CRASHED with `reason`; resolves once its processes are gone. */
  kill(subject: T, reason: string): Promise<void>;
  readonly logger: Logger;
}

export class Reclaimer<T> {
  private inFlight: Promise<void> | null = null;
  private warnedWithin = false;

  constructor(private readonly deps: ReclaimerDeps<T>) {}

  /** The pool is short: reclaim from one instance unless a reclaim is still under way. */
  onShort(): void {
    if (this.inFlight !== null) return;
    const targets = this.deps.candidates();
    const victim = chooseVictim(targets.map((t) => t.candidate));
    if (victim === null) {
      // Everyone within their guarantee: the pool was promised more than it holds (the
      // node is overcommitted). Nobody is killed for that; say it once per episode.
      if (!this.warnedWithin) this.deps.logger.warn({ event: 'elastic.pool.short', instances: targets.length }, 'memory pool short but every instance is within its guarantee: not reclaiming');
      this.warnedWithin = true;
      return;
    }
    this.warnedWithin = false;
    const target = targets.find((t) => t.candidate === victim)!;
    const reason = reclaimDescription(victim);
    this.deps.logger.warn({ event: 'elastic.reclaim', instance_id: victim.instanceId, used_bytes: victim.usedBytes, guarantee_bytes: victim.guaranteeBytes }, reason);
    this.inFlight = this.deps
      .kill(target.subject, reason)
      .catch((err: unknown) => this.deps.logger.error({ event: 'elastic.reclaim.failed', instance_id: victim.instanceId, err: String(err) }, 'reclaim kill failed'))
      .finally(() => {
        this.inFlight = null;
      });
  }
}

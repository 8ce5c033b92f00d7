import type { Logger } from '../platform/logger.js';

/**
 * Networks made ahead of need. Making a namespace and a veth pair costs the kernel tens of
 * milliseconds on a busy host (measured in docs/performance.md), far more than the
 * container's own start, so a few are kept ready and a start only takes one; the pool is
 * refilled in the background, one at a time. Closed at agent shutdown: the ready ones go.
 */
export class ReadySlots<T> {
  private readonly ready: T[] = [];
  private filling: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly make: () => Promise<T>,
    private readonly drop: (slot: T) => Promise<void>,
    private readonly size: number,
    private readonly logger: Logger,
  ) {}

  /** Begins filling (after the agent's sweep, which would take ready ones for leftovers). */
  start(): void {
    this.refill();
  }

  /**
   * A ready one, else one made now. The pool is not refilled here: making one competes
   * with the start for the CPU and the kernel; the caller refills once its start is done.
   */
  async take(): Promise<T> {
    return this.ready.shift() ?? this.make();
  }

  /** The ones ready now. */
  peek(): readonly T[] {
    return this.ready;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.filling;
    for (const slot of this.ready.splice(0)) await this.dropOrSay(slot);
  }

  /**
   * A network that cannot be taken down at shutdown stays until the next agent's sweep:
   * said, so that such a leftover has a reason in the log (one was seen under load).
   */
  private async dropOrSay(slot: T): Promise<void> {
    try {
      await this.drop(slot);
    } catch (err) {
      this.logger.warn({ event: 'network.slot.drop_failed', err: String(err).slice(0, 300) }, 'a network made ahead could not be removed');
    }
  }

  refill(): void {
    if (this.filling !== null || this.closed || this.size === 0) return;
    this.filling = this.fill().finally(() => {
      this.filling = null;
    });
  }

  private async fill(): Promise<void> {
    while (!this.closed && this.ready.length < this.size) {
      let slot: T;
      try {
        slot = await this.make();
      } catch (err) {
        // A full pool, most likely: starts make their own until one is given back.
        this.logger.debug({ event: 'network.slot.failed', err: String(err) }, 'cannot make a network ahead');
        return;
      }
      if (this.closed) return void (await this.dropOrSay(slot));
      this.ready.push(slot);
    }
  }
}

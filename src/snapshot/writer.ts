import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import { snapshotText, type SnapshotEntry } from './format.js';

export interface SnapshotSink {
  write(text: string): void;
}

/**
 * Writes the snapshot after every transition that matters, at most once per turn of
 * the event loop however many transitions it saw (twenty starts at once are one write).
 * A failed write is logged and the next transition tries again: the agent serves on.
 */
export class SnapshotWriter {
  private scheduled = false;
  private writes = 0;

  constructor(
    private readonly sink: SnapshotSink,
    private readonly entries: () => SnapshotEntry[],
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.writeNow();
    });
  }

  writeNow(): void {
    try {
      this.sink.write(snapshotText(this.entries(), this.clock.now()));
      this.writes++;
    } catch (err) {
      this.logger.error({ event: 'snapshot.write.failed', err: String(err) }, 'snapshot not written');
    }
  }

  /** Snapshots written so far (for tests and benchmarks). */
  count(): number {
    return this.writes;
  }
}

import type { Logger } from '../platform/logger.js';
import { parseSnapshot, type SnapshotEntry } from './format.js';
import type { SnapshotStore } from './store.js';

/**
 * The entries an earlier agent left; none when there is no snapshot. One that cannot be
 * used (corrupt, another version) is set aside for the operator, logged as an error, and
 * the agent serves anyway.
 */
export function loadSnapshot(store: SnapshotStore, nowMs: number, logger: Logger): SnapshotEntry[] {
  const text = store.read();
  if (text === null) return [];
  const parsed = parseSnapshot(text);
  if (parsed.ok) return [...parsed.snapshot.instances];
  const keptAt = store.setAside(nowMs);
  logger.error({ event: 'snapshot.unusable', problem: parsed.problem, kept_at: keptAt }, `snapshot unusable (${parsed.problem}): set aside, nothing adopted`);
  return [];
}

export { parseSnapshot, snapshotText, SNAPSHOT_VERSION, type Snapshot, type SnapshotEntry } from './format.js';
export { SnapshotStore } from './store.js';
export { SnapshotWriter, type SnapshotSink } from './writer.js';
export { entryOf } from './entries.js';
export { loadSnapshot } from './load.js';
export { parseUsageHistory, usageHistoryText, USAGE_HISTORY_EVERY_TICKS } from './usage-history.js';

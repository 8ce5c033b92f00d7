/**
 * `db/instances.json`: what a restarted agent needs to adopt the instances an earlier
 * one left (protocol §11.4). Pure: built from instances, parsed and validated back; the
 * file itself is store.ts's business.
 */
import { z } from 'zod';
import type { BackendHandle } from '../backends/types.js';
import type { RestoredFields } from '../instance/instance.js';
import { INSTANCE_STATES, type InstanceState } from '../instance/types.js';

export const SNAPSHOT_VERSION = 1;

/** One instance, as the snapshot keeps it: what restores it, and how to find its process. */
export interface SnapshotEntry extends RestoredFields {
  readonly state: InstanceState;
  /** Which backend ran it, and what it needs to find the process again. */
  readonly backend: string | null;
  readonly handle: BackendHandle | null;
}

export interface Snapshot {
  readonly version: typeof SNAPSHOT_VERSION;
  /** ms since the epoch at which it was written */
  readonly writtenAt: number;
  readonly instances: readonly SnapshotEntry[];
}

const id = z.string().regex(/^[0-9a-f]{32}$/);
const scalar = z.union([z.string(), z.number(), z.null()]);

const entrySchema = z.object({
  instanceId: z.string().min(1).max(256),
  localId: id,
  privateInstanceId: z.string().max(256),
  // The spec was validated when its start message arrived; the snapshot is ours, so its
  // shape is checked here and its contents trusted.
  spec: z.looseObject({ applicationId: z.string(), limits: z.looseObject({ memMb: z.number(), diskMb: z.number(), fds: z.number() }) }),
  state: z.enum(INSTANCE_STATES),
  stateTimestamp: z.number(),
  startingTimestamp: z.number().nullable(),
  uris: z.array(z.string()),
  version: z.string().nullable(),
  hostPort: z.number().int().min(0).max(65535).nullable(),
  dropletSha1: z.string().regex(/^[0-9a-f]{40}$/).nullable(),
  exitStatus: z.number(),
  exitDescription: z.string(),
  crashTimestamp: z.number().nullable(),
  backend: z.string().nullable(),
  handle: z.record(z.string(), scalar).nullable(),
});

const snapshotSchema = z.object({
  version: z.literal(SNAPSHOT_VERSION),
  writtenAt: z.number(),
  instances: z.array(entrySchema),
});

export type ParsedSnapshot = { ok: true; snapshot: Snapshot } | { ok: false; problem: string };

/** The file's text → a snapshot, or why it cannot be used (corrupt, another version). */
export function parseSnapshot(text: string): ParsedSnapshot {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not JSON' };
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (version !== SNAPSHOT_VERSION) return { ok: false, problem: `unknown version ${JSON.stringify(version ?? null).slice(0, 20)}` };
  const parsed = snapshotSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return { ok: false, problem: `invalid at ${first?.path.join('.') ?? '?'}: ${first?.message ?? 'unknown'}` };
  }
  return { ok: true, snapshot: parsed.data as unknown as Snapshot };
}

export function snapshotText(instances: readonly SnapshotEntry[], writtenAt: number): string {
  const snapshot: Snapshot = { version: SNAPSHOT_VERSION, writtenAt, instances };
  return JSON.stringify(snapshot);
}

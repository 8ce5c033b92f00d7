/**
 * `db/usage.json`: the monitor's recent samples of every instance, so an agent restarted
 * on the same base_dir (even after `kill -9`) resumes each adopted instance's history
 * instead of starting it empty. Kept apart from `instances.json`: samples change every
 * tick, and putting them in the snapshot would make every transition's write carry them
 * (about 600 KB at 500 instances). Written every few ticks instead; what a kill loses is
 * the samples of the last few seconds. Pure: built and parsed here, stored by the
 * snapshot's atomic store.
 */
import { z } from 'zod';
import type { UsageSample } from '../instance/types.js';

export const USAGE_HISTORY_VERSION = 1;

/** Written every this many monitor ticks (10 s by default): a kill loses at most that much. */
export const USAGE_HISTORY_EVERY_TICKS = 5;

/** One sample as stored: [time ms, cpu fraction, memory bytes, disk bytes]. */
type Row = [number, number, number, number];

export interface HasHistory {
  readonly localId: string;
  readonly samples: readonly UsageSample[];
}

const row = z.tuple([z.number(), z.number().min(0), z.number().min(0), z.number().min(0)]);
const historySchema = z.object({
  version: z.literal(USAGE_HISTORY_VERSION),
  writtenAt: z.number(),
  instances: z.record(z.string().regex(/^[0-9a-f]{32}$/), z.array(row).max(10_000)),
});

export function usageHistoryText(instances: Iterable<HasHistory>, writtenAt: number): string {
  const rows: Record<string, Row[]> = {};
  for (const inst of instances) {
    if (inst.samples.length === 0) continue;
    rows[inst.localId] = inst.samples.map((s) => [s.time, round(s.cpu), s.memBytes, s.diskBytes]);
  }
  return JSON.stringify({ version: USAGE_HISTORY_VERSION, writtenAt, instances: rows });
}

/**
 * The samples per instance (by local id, oldest first), or null when the text is not a
 * history this agent understands: history is a nicety, so an unusable one is ignored.
 */
export function parseUsageHistory(text: string): Map<string, UsageSample[]> | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = historySchema.safeParse(json);
  if (!parsed.success) return null;
  const history = new Map<string, UsageSample[]>();
  for (const [localId, rows] of Object.entries(parsed.data.instances)) {
    history.set(localId, rows.map(([time, cpu, memBytes, diskBytes]) => ({ time, cpu, memBytes, diskBytes })));
  }
  return history;
}

/** Four decimals of a core are plenty and keep the file small. */
function round(cpu: number): number {
  return Math.round(cpu * 10_000) / 10_000;
}

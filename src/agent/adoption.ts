import type { Instance } from '../instance/instance.js';
import { Instance as InstanceClass } from '../instance/instance.js';
import type { SnapshotEntry } from '../snapshot/index.js';
import type { UsageSample } from '../instance/types.js';
import type { AgentContext } from './context.js';

export interface Adopted {
  /** Instances found running again, by instance id. */
  readonly running: string[];
  /** Instances that ended while no agent ran (or were caught starting): now CRASHED. */
  readonly crashed: string[];
  /** Crash records kept as they were. */
  readonly records: number;
  /** Every instance id a snapshot entry explains (what a backend sweep must keep). */
  readonly explained: Set<string>;
}

/**
 * Brings back what the snapshot of an earlier agent describes (protocol §11.4): a crash
 * record as it was; every other instance through RESUMING, adopted by the lifecycle
 * (same process, or CRASHED with its real exit). Runs before the agent subscribes, so no
 * message can race it. Each instance's monitor samples (`history`, by local id) come
 * back with it, so its usage does not start from nothing.
 */
export async function adoptSnapshot(
  ctx: AgentContext,
  entries: readonly SnapshotEntry[],
  history: ReadonlyMap<string, readonly UsageSample[]> = new Map(),
): Promise<Adopted> {
  const restore = (e: SnapshotEntry, state: 'CRASHED' | 'RESUMING'): Instance => {
    const inst = InstanceClass.restore(e, state, [ctx.onTransition]);
    for (const sample of history.get(e.localId) ?? []) inst.recordUsage(sample, ctx.config.monitor.maxUsageSamples);
    return inst;
  };
  const running: string[] = [];
  const crashed: string[] = [];
  let records = 0;
  const explained = new Set<string>();
  const adoptions: Promise<void>[] = [];
  for (const e of entries) {
    explained.add(e.localId);
    if (e.state === 'STOPPED' || ctx.registry.get(e.instanceId)) continue;
    if (e.state === 'CRASHED') {
      const record = restore(e, 'CRASHED');
      ctx.registry.add(record);
      // A crash whose clean-up an agent killed mid-way did not finish (its process handle
      // is still in the snapshot): finish it, without reporting the crash again.
      if (e.handle !== null) adoptions.push(ctx.lifecycle.finishCrash(record, e.handle));
      records++;
      continue;
    }
    const inst = restore(e, 'RESUMING');
    ctx.registry.add(inst);
    adoptions.push(
      ctx.lifecycle.adopt(inst, e.state, e.handle).then(() => {
        if (inst.state === 'RUNNING') running.push(inst.instanceId);
        else if (inst.state === 'CRASHED') crashed.push(inst.instanceId);
      }),
    );
  }
  await Promise.all(adoptions);
  return { running, crashed, records, explained };
}

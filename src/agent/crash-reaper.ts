import { readdir, rm } from 'node:fs/promises';
import type { InstanceRegistry } from '../instance/registry.js';
import type { Instance } from '../instance/instance.js';
import type { Layout } from '../staging/layout.js';
import type { Logger } from '../platform/logger.js';

/**
 * Crashed instances are kept, newest per app, for `crash_lifetime_secs` (protocol §6.5),
 * so operators and the controller can still see why they died. Everything else goes,
 * including crash directories no record points at.
 */
export async function reapCrashes(
  registry: InstanceRegistry,
  layout: Layout,
  nowMs: number,
  lifetimeMs: number,
  logger: Logger,
): Promise<void> {
  const newest = new Map<string, Instance>();
  const doomed: Instance[] = [];
  for (const inst of registry.all()) {
    if (inst.state !== 'CRASHED') continue;
    if (nowMs - (inst.crashTimestamp ?? 0) > lifetimeMs) {
      doomed.push(inst);
      continue;
    }
    const app = inst.spec.applicationId;
    const kept = newest.get(app);
    if (!kept || (kept.crashTimestamp ?? 0) < (inst.crashTimestamp ?? 0)) {
      if (kept) doomed.push(kept);
      newest.set(app, inst);
    } else {
      doomed.push(inst);
    }
  }
  for (const inst of doomed) {
    registry.remove(inst);
    await rm(layout.crashDir(inst.localId), { recursive: true, force: true });
    logger.info({ event: 'instance.crash.reaped', instance_id: inst.instanceId, app_id: inst.spec.applicationId }, 'crash removed');
  }
  await removeOrphans(registry, layout);
}

async function removeOrphans(registry: InstanceRegistry, layout: Layout): Promise<void> {
  const known = new Set(registry.all().map((i) => i.localId));
  const entries = await readdir(layout.crashes).catch(() => [] as string[]);
  for (const name of entries) {
    if (/^[0-9a-f]{32}$/.test(name) && !known.has(name)) {
      await rm(layout.crashDir(name), { recursive: true, force: true });
    }
  }
}

import type { InstanceRegistry } from '../instance/registry.js';
import type { InstanceLifecycle } from '../lifecycle/lifecycle.js';
import type { Logger } from '../platform/logger.js';

/** dea_ng looked every 10 s for stops older than a minute. */
export const STOP_REAP_INTERVAL_MS = 10_000;
export const STUCK_STOP_MS = 60_000;

/**
 * A stop can hang (a process the kernel will not let die, a backend call that never
 * returns); the instance would then hold its memory and stay in `dea.find.droplet`
 * forever. Each one STOPPING for a minute is stopped again (protocol §6.2).
 */
export function reapStuckStops(registry: InstanceRegistry, lifecycle: InstanceLifecycle, nowMs: number, logger: Logger): void {
  for (const inst of registry.all()) {
    if (inst.state !== 'STOPPING' || nowMs - inst.stateTimestamp < STUCK_STOP_MS) continue;
    const stuckMs = nowMs - inst.stateTimestamp;
    logger.warn({ event: 'instance.stop.retried', instance_id: inst.instanceId, app_id: inst.spec.applicationId, stuck_ms: stuckMs }, 'stop stuck: stopping again');
    lifecycle.restop(inst).catch((err: unknown) => {
      logger.error({ event: 'instance.stop.failed', instance_id: inst.instanceId, err: String(err) }, 'stop failed');
    });
  }
}

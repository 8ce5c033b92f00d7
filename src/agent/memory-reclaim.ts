/**
 * Elastic memory's kill policy, wired to the agent (docs/containers.md): when the backend says the
 * instances' pool runs short, the instance furthest above its guarantee, measured now,
 * is ended as CRASHED with the reclaim description (also in its stderr.log).
 */
import type { Backend } from '../backends/types.js';
import type { Instance } from '../instance/instance.js';
import { LIVE } from '../instance/states.js';
import type { Logger } from '../platform/logger.js';
import { Reclaimer, type ReclaimTarget } from '../monitor/reclaimer.js';
import type { Agent } from './agent.js';

const MIB = 1024 * 1024;

export function reclaimOnPressure(backend: Backend, agent: Agent, logger: Logger): void {
  const reclaimer = new Reclaimer<Instance>({
    candidates: () => agent.registry.inStates(LIVE).flatMap((inst) => target(agent, inst)),
    kill: (inst, reason) => agent.ctx.lifecycle.kill(inst, reason),
    logger,
  });
  backend.watchMemoryPool?.(() => reclaimer.onShort());
}

function target(agent: Agent, inst: Instance): ReclaimTarget<Instance>[] {
  const usage = agent.ctx.lifecycle.process(inst)?.usage?.();
  if (!usage) return [];
  const candidate = {
    instanceId: inst.instanceId,
    guaranteeBytes: inst.spec.limits.memMb * MIB,
    usedBytes: usage.memBytes,
    startedAtMs: inst.startingTimestamp ?? inst.stateTimestamp,
  };
  return [{ subject: inst, candidate }];
}

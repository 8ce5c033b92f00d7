import type { Transition } from '../instance/instance.js';
import type { Logger } from '../platform/logger.js';
import type { RouterClient } from '../router/router-client.js';
import type { Reporter } from './reporter.js';

export interface WiringDeps {
  readonly reporter: Reporter;
  readonly router: RouterClient;
  readonly logger: Logger;
  /** A stopped instance leaves the registry. */
  forget(t: Transition): void;
  /** Every transition changes what a restarted agent must find: the snapshot is rewritten. */
  persist?(): void;
}

/**
 * What each transition means to the rest of the world (protocol §6.2). Every side
 * effect of a state change hangs off here, nowhere else.
 */
export function transitionEffects(deps: WiringDeps): (t: Transition) => void {
  return (t) => {
    const { instance: inst, from, to } = t;
    deps.logger.info(
      { event: `instance.${to.toLowerCase()}`, instance_id: inst.instanceId, app_id: inst.spec.applicationId, index: inst.spec.instanceIndex, from },
      `instance ${from} -> ${to}`,
    );
    switch (to) {
      case 'RUNNING':
        deps.reporter.heartbeat();
        deps.router.register(inst);
        break;
      case 'STOPPING':
        deps.router.unregister(inst);
        break;
      case 'CRASHED':
        // RESUMING: an adopted instance found dead; the agent before us had registered it.
        if (from === 'RUNNING' || from === 'EVACUATING' || from === 'RESUMING') deps.router.unregister(inst);
        deps.reporter.exited(inst, 'CRASHED');
        deps.reporter.advertiseSoon();
        break;
      case 'STOPPED':
        deps.forget(t);
        deps.reporter.advertiseSoon();
        break;
      default:
        break;
    }
    deps.persist?.();
  };
}

import type { Transition } from '../instance/instance.js';
import type { Logger } from '../platform/logger.js';
import type { RouterClient } from '../router/router-client.js';
import type { Evacuation } from './evacuation.js';
import type { Reporter } from './reporter.js';

export interface WiringDeps {
  readonly reporter: Reporter;
  readonly router: RouterClient;
  readonly logger: Logger;
  /** A stopped instance leaves the registry. */
  forget(t: Transition): void;
  /** Every transition changes what a restarted agent must find: the snapshot is rewritten. */
  persist?(): void;
  /** The same, written before this returns (see RUNNING below). */
  persistNow?(): void;
  /** The USR2 evacuation, told of every transition (protocol §11.2). */
  readonly evacuation?: Pick<Evacuation, 'joined' | 'check'>;
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
        // On disk before anyone hears of it: a kill -9 right after the router learns of
        // the instance must not leave a snapshot that still says STARTING.
        deps.persistNow?.();
        deps.reporter.heartbeat();
        deps.router.register(inst);
        // A start that ends while the agent evacuates joins the evacuation (route kept).
        deps.evacuation?.joined(inst);
        break;
      case 'EVACUATING':
        // Kept registered on purpose: it serves until its replacement elsewhere runs.
        // v2-classic told the health manager at once, besides the heartbeat's EVACUATING.
        deps.reporter.exited(inst, 'DEA_EVACUATION');
        deps.reporter.heartbeatSoon();
        break;
      case 'STOPPING':
        deps.router.unregister(inst);
        break;
      case 'CRASHED':
        // On disk before the exit goes out: a kill -9 right after must not leave a snapshot
        // that says RUNNING, or the next agent reports the same crash again.
        deps.persistNow?.();
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
    deps.evacuation?.check();
  };
}

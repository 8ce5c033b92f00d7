import type { Bus } from '../bus/types.js';
import type { InstanceRegistry } from '../instance/registry.js';
import { ROUTABLE } from '../instance/states.js';
import type { InstanceView } from '../instance/types.js';
import type { Logger } from '../platform/logger.js';
import { routeMessage, ROUTER_REGISTER, ROUTER_UNREGISTER, type RouteContext } from '../protocol/index.js';

/**
 * Registers instance routes with the router (protocol §4.4, §7.3). Builds messages only
 * through the protocol module and sends them only through the bus.
 */
export class RouterClient {
  constructor(
    private readonly bus: Bus,
    private readonly ctx: RouteContext,
    private readonly logger: Logger,
  ) {}

  register(inst: InstanceView, uris?: readonly string[]): void {
    this.send(ROUTER_REGISTER, inst, uris);
  }

  unregister(inst: InstanceView, uris?: readonly string[]): void {
    this.send(ROUTER_UNREGISTER, inst, uris);
  }

  /** The periodic and `router.start` re-registration: routable instances with URIs only. */
  registerAll(registry: InstanceRegistry): void {
    for (const inst of registry.inStates(ROUTABLE)) {
      if (inst.uris.length > 0) this.register(inst);
    }
  }

  private send(subject: string, inst: InstanceView, uris?: readonly string[]): void {
    if (inst.hostPort === null) return; // never launched: nothing to route to
    this.bus.publish(subject, routeMessage(this.ctx, inst, uris));
    this.logger.debug({ event: `${subject}.sent`, instance_id: inst.instanceId }, subject);
  }
}

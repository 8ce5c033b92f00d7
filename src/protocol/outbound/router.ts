/** `router.register` / `router.unregister` bodies for an instance (protocol §4.4). */
import type { InstanceView } from '../../instance/types.js';

export interface RouteMessage {
  dea: string;
  app: string;
  uris: string[];
  host: string;
  port: number;
  tags: { component: string };
  private_instance_id: string;
}

export interface RouteContext {
  readonly deaId: string;
  /** The agent's local IP, where the instance's port is reachable. */
  readonly host: string;
  /** The agent's config index, for the `dea-<index>` component tag. */
  readonly index: number;
}

/**
 * `uris` defaults to the instance's own; `dea.update` passes just the added or removed
 * ones. gorouter drops a message whose port is not a valid port number, so a missing or
 * bad port is a caller bug and throws here rather than on the router.
 */
export function routeMessage(ctx: RouteContext, inst: InstanceView, uris?: readonly string[]): RouteMessage {
  const port = inst.hostPort;
  if (port === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`instance ${inst.instanceId} has no valid host port (${String(port)})`);
  }
  return {
    dea: ctx.deaId,
    app: inst.spec.applicationId,
    uris: [...(uris ?? inst.uris)],
    host: ctx.host,
    port,
    tags: { component: `dea-${ctx.index}` },
    private_instance_id: inst.privateInstanceId,
  };
}

/**
 * The fleet's bus load, extrapolated from what one agent sends (docs/performance.md,
 * "The fleet"). Every agent publishes on fixed intervals: a heartbeat (its whole state,
 * growing with its instances), an advertisement (growing with its distinct apps), and
 * one `router.register` per instance and route interval. Each message is delivered to
 * every subscriber: heartbeats to the health managers, adverts to the controllers,
 * registrations to every router. The other way, every stop, find or update a controller
 * sends goes to every agent. Pure.
 */

export interface FleetShape {
  readonly agents: number;
  readonly instancesPerAgent: number;
  readonly heartbeatS: number;
  readonly advertiseS: number;
  readonly routerRegisterS: number;
  readonly routers: number;
  readonly controllers: number;
  readonly healthManagers: number;
  /**
   * Controller requests that go to every agent (dea.stop, dea.find.droplet, dea.update,
   * dea.locate, router.start), per second, fleet-wide.
   */
  readonly broadcastOpsPerS: number;
}

export interface MessageSizes {
  /** Heartbeat bytes = base + perInstance × instances (fitted from two sizes). */
  readonly heartbeat: { readonly base: number; readonly perInstance: number };
  readonly advertise: { readonly base: number; readonly perInstance: number };
  readonly register: number;
}

export interface FleetLoad {
  /** What the agents publish into the cluster, per second. */
  readonly publishedMsgs: number;
  readonly publishedBytes: number;
  /** What the cluster delivers to subscribers, per second (fan-out). */
  readonly deliveredMsgs: number;
  readonly deliveredBytes: number;
  /** What each router must take in, per second. */
  readonly perRouterMsgs: number;
  /** What each agent must take in, per second (every broadcast request). */
  readonly perAgentInMsgs: number;
  readonly heartbeatBytes: number;
}

export function fleetLoad(f: FleetShape, s: MessageSizes): FleetLoad {
  const hb = s.heartbeat.base + s.heartbeat.perInstance * f.instancesPerAgent;
  const ad = s.advertise.base + s.advertise.perInstance * f.instancesPerAgent;
  const perAgent = {
    heartbeat: { msgs: 1 / f.heartbeatS, bytes: hb / f.heartbeatS },
    advertise: { msgs: 1 / f.advertiseS, bytes: ad / f.advertiseS },
    register: { msgs: f.instancesPerAgent / f.routerRegisterS, bytes: (f.instancesPerAgent * s.register) / f.routerRegisterS },
  };
  const n = f.agents;
  const publishedMsgs = n * (perAgent.heartbeat.msgs + perAgent.advertise.msgs + perAgent.register.msgs);
  const publishedBytes = n * (perAgent.heartbeat.bytes + perAgent.advertise.bytes + perAgent.register.bytes);
  const broadcasts = f.broadcastOpsPerS * n;
  const deliveredMsgs = n * (perAgent.heartbeat.msgs * f.healthManagers + perAgent.advertise.msgs * f.controllers + perAgent.register.msgs * f.routers) + broadcasts;
  const deliveredBytes = n * (perAgent.heartbeat.bytes * f.healthManagers + perAgent.advertise.bytes * f.controllers + perAgent.register.bytes * f.routers);
  return { publishedMsgs, publishedBytes, deliveredMsgs, deliveredBytes, perRouterMsgs: n * perAgent.register.msgs, perAgentInMsgs: f.broadcastOpsPerS, heartbeatBytes: hb };
}

/** How many instances one agent may have before its heartbeat exceeds `maxPayload`. */
export function heartbeatLimit(s: MessageSizes, maxPayload: number): number {
  return Math.floor((maxPayload - s.heartbeat.base) / s.heartbeat.perInstance);
}

/** A line through two (instances, bytes) points. */
export function linear(n1: number, b1: number, n2: number, b2: number): { base: number; perInstance: number } {
  const perInstance = (b2 - b1) / (n2 - n1);
  return { base: b1 - perInstance * n1, perInstance };
}

/**
 * Every NATS subject the agent uses (protocol §3 and §4), spelt exactly as the
 * dea_ng v2-classic peers expect them.
 */

// Subscribed.
export const DEA_STOP = 'dea.stop';
export const DEA_UPDATE = 'dea.update';
export const DEA_FIND_DROPLET = 'dea.find.droplet';
export const DEA_STATUS = 'dea.status';
export const DEA_LOCATE = 'dea.locate';
export const ROUTER_START = 'router.start';
export const HEALTHMANAGER_START = 'healthmanager.start';
export const COMPONENT_DISCOVER = 'vcap.component.discover';

// Published. `dea.start` is the hello; the directed start is `dea.<id>.start`.
export const DEA_HELLO = 'dea.start';
export const DEA_ADVERTISE = 'dea.advertise';
export const STAGING_ADVERTISE = 'staging.advertise';
export const DEA_HEARTBEAT = 'dea.heartbeat';
export const DROPLET_EXITED = 'droplet.exited';
export const ROUTER_REGISTER = 'router.register';
export const ROUTER_UNREGISTER = 'router.unregister';
export const DEA_SHUTDOWN = 'dea.shutdown';
export const COMPONENT_ANNOUNCE = 'vcap.component.announce';

/** The directed start subject of one agent. */
function start(deaId: string): string {
  return `dea.${deaId}.start`;
}

/** Everything an agent with this id subscribes to. */
function subscriptions(deaId: string): readonly string[] {
  return [
    start(deaId),
    DEA_STOP,
    DEA_UPDATE,
    DEA_FIND_DROPLET,
    DEA_STATUS,
    DEA_LOCATE,
    ROUTER_START,
    HEALTHMANAGER_START,
    COMPONENT_DISCOVER,
  ];
}

export const Subjects = {
  start,
  subscriptions,
  DEA_STOP,
  DEA_UPDATE,
  DEA_FIND_DROPLET,
  DEA_STATUS,
  DEA_LOCATE,
  ROUTER_START,
  HEALTHMANAGER_START,
  COMPONENT_DISCOVER,
  DEA_HELLO,
  DEA_ADVERTISE,
  STAGING_ADVERTISE,
  DEA_HEARTBEAT,
  DROPLET_EXITED,
  ROUTER_REGISTER,
  ROUTER_UNREGISTER,
  DEA_SHUTDOWN,
  COMPONENT_ANNOUNCE,
} as const;

/**
 * The DEA wire protocol, pure: inbound parsers that validate bus payloads into typed
 * requests, and builders for every outbound body. No I/O, clock or state here.
 */
export * from './subjects.js';

export { parseStart, START_SUBJECT } from './inbound/start.js';
export { DEFAULT_LIMITS } from './inbound/start-parts.js';
export { parseStop, type StopRequest } from './inbound/stop.js';
export { parseUpdate, type UpdateRequest } from './inbound/update.js';
export { parseFind, type FindRequest } from './inbound/find.js';
export { parseAny } from './inbound/any.js';
export { matchesFilter, type InstanceFilter } from './inbound/filter.js';
export { MAX_STRING, MAX_ID, MAX_URI, MAX_ENV_ENTRY, MAX_START_COMMAND, MAX_ITEMS } from './inbound/fields.js';
export { MAX_OPAQUE_STRING, MAX_OPAQUE_DEPTH } from './inbound/opaque.js';

export {
  DEA_VERSION,
  hello,
  advertise,
  stagingAdvertise,
  goodbye,
  statusReply,
  type AppCounts,
  type HelloMessage,
  type AdvertiseMessage,
  type StagingAdvertiseMessage,
  type GoodbyeMessage,
  type StatusReply,
} from './outbound/agent.js';
export {
  heartbeat,
  dropletExited,
  wireVersion,
  HEARTBEAT_STATES,
  type ExitReason,
  type HeartbeatEntry,
  type HeartbeatMessage,
  type DropletExitedMessage,
} from './outbound/instance.js';
export { routeMessage, type RouteContext, type RouteMessage } from './outbound/router.js';
export {
  findReply,
  type FindReply,
  type FindReplyOptions,
  type InstanceStats,
  type UsageStats,
} from './outbound/find.js';
export {
  componentAnnounce,
  componentDiscover,
  type ComponentInfo,
  type ComponentAnnounce,
  type ComponentDiscoverReply,
} from './outbound/component.js';
export { rubyTime, uptimeString, epochSeconds, wholeSeconds } from './outbound/time.js';

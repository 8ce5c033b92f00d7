/**
 * How each NATS client status event is logged. Changes of the connection are what an
 * operator needs at the default level; the client's housekeeping (a ping every 30 s,
 * cluster membership updates) is debug noise.
 */
import type { Logger } from '../platform/logger.js';

type Level = 'warn' | 'info' | 'debug';

interface StatusLog {
  readonly event: string;
  readonly level: Level;
  readonly msg: string;
}

/** Keyed by the nats.js status `type`. */
export const STATUS_LOGS: Readonly<Record<string, StatusLog>> = {
  disconnect: { event: 'bus.disconnect', level: 'info', msg: 'disconnected from NATS' },
  reconnecting: { event: 'bus.reconnecting', level: 'info', msg: 'reconnecting to NATS' },
  reconnect: { event: 'bus.reconnect', level: 'info', msg: 'reconnected to NATS' },
  staleConnection: { event: 'bus.stale_connection', level: 'info', msg: 'NATS stopped answering pings: reconnecting' },
  ldm: { event: 'bus.lame_duck', level: 'info', msg: 'NATS server is going away (lame duck mode)' },
  error: { event: 'bus.error', level: 'warn', msg: 'NATS error' },
  pingTimer: { event: 'bus.ping_timer', level: 'debug', msg: 'NATS ping' },
  update: { event: 'bus.update', level: 'debug', msg: 'NATS cluster update' },
  'client initiated reconnect': { event: 'bus.client_reconnect', level: 'debug', msg: 'client-initiated reconnect' },
};

const UNKNOWN: StatusLog = { event: 'bus.status', level: 'debug', msg: 'NATS status' };

/** nats.js retries each server every ~0.5 s while disconnected; one info line per server per this. */
export const RECONNECTING_LOG_EVERY_MS = 5_000;

/** Credentials never reach a log line. */
export function scrubUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

export interface StatusEvent {
  readonly type: string;
  readonly data: unknown;
}

/** Returns the logging function for a connection's status stream. */
export function statusLogger(logger: Logger, now: () => number = Date.now): (s: StatusEvent) => void {
  const lastInfo = new Map<string, number>();
  return (s) => {
    const spec = STATUS_LOGS[s.type] ?? UNKNOWN;
    const data = typeof s.data === 'string' || s.data instanceof Error ? scrubUrl(String(s.data)) : s.data;
    let level = spec.level;
    if (s.type === 'reconnecting') level = throttled(lastInfo, String(data), now()) ? 'debug' : level;
    // A reconnect ends the outage: the next one starts with an info line again.
    if (s.type === 'reconnect') lastInfo.clear();
    logger[level]({ event: spec.event, type: s.type, data }, typeof data === 'string' ? `${spec.msg}: ${data}` : spec.msg);
  };
}

/** True when `key` already had an info line within the last RECONNECTING_LOG_EVERY_MS. */
function throttled(last: Map<string, number>, key: string, at: number): boolean {
  const previous = last.get(key);
  if (previous !== undefined && at - previous < RECONNECTING_LOG_EVERY_MS) return true;
  last.set(key, at);
  return false;
}

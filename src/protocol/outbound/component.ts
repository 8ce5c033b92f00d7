/**
 * vcap-common component discovery (protocol §10, §3.11, §4.8): the reply to
 * `vcap.component.discover` and the `vcap.component.announce` body.
 */
import { rubyTime, uptimeString } from './time.js';

export interface ComponentInfo {
  readonly type: 'DEA';
  readonly index: number;
  readonly uuid: string;
  /** `<ip>:<status port>` of the varz/healthz server. */
  readonly host: string;
  readonly credentials: readonly [string, string];
  /** When the component registered, ms since the epoch. */
  readonly startMs: number;
}

export interface ComponentAnnounce {
  type: 'DEA';
  index: number;
  uuid: string;
  host: string;
  credentials: [string, string];
  start: string;
}

export interface ComponentDiscoverReply extends ComponentAnnounce {
  uptime: string;
}

export function componentAnnounce(c: ComponentInfo): ComponentAnnounce {
  return {
    type: c.type,
    index: c.index,
    uuid: c.uuid,
    host: c.host,
    credentials: [c.credentials[0], c.credentials[1]],
    start: rubyTime(c.startMs),
  };
}

export function componentDiscover(c: ComponentInfo & { readonly nowMs: number }): ComponentDiscoverReply {
  return { ...componentAnnounce(c), uptime: uptimeString(c.startMs, c.nowMs) };
}

/**
 * Which directory of an instance the directory server serves (protocol §11.5): a running
 * (or evacuating) instance's own directory, a crashed one's crash record, nothing else.
 * Always from the layout and the instance's own id, never from a name in a request.
 */
import type { InstanceState } from '../instance/types.js';
import type { Layout } from '../staging/layout.js';

export interface ServedInstance {
  readonly instanceId: string;
  /** The id its directories are named after (see Instance.localId). */
  readonly localId: string;
  readonly state: InstanceState;
}

const LIVE_SERVED: ReadonlySet<InstanceState> = new Set(['RUNNING', 'EVACUATING']);

/** The directory to serve, or null while the instance has none worth serving. */
export function instanceRoot(layout: Layout, inst: ServedInstance): string | null {
  if (LIVE_SERVED.has(inst.state)) return layout.instanceDir(inst.localId);
  if (inst.state === 'CRASHED') return layout.crashDir(inst.localId);
  return null;
}

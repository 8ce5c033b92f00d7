/**
 * Stopping instances and waiting until the agents say they are gone: `dea.stop` has no
 * reply (protocol §3.2), so the agents are asked again until none of them still runs.
 */
import { DEA_STOP } from '../../protocol/index.js';
import { findInstances, type Instance } from './instances.js';
import type { Session } from './session.js';

/** What a stop acts on (protocol §3.2), STOPPING included: that one is not gone yet. */
const STOPPABLE = ['BORN', 'STARTING', 'RUNNING', 'STOPPING', 'EVACUATING'];
const STOP_WAIT_MS = 60_000;

export async function stopAndWait(session: Session, app: string, indices?: readonly number[]): Promise<Instance[]> {
  const body: Record<string, unknown> = { droplet: app };
  if (indices !== undefined) body.indices = [...indices];
  session.publish(DEA_STOP, body);
  const deadline = Date.now() + STOP_WAIT_MS;
  for (;;) {
    const left = await findInstances(session, app, { states: STOPPABLE, ...(indices !== undefined ? { indices } : {}) });
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 250));
  }
}

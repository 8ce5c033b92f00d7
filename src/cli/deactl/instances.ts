/**
 * Instances as the agents report them (`dea.find.droplet`, protocol §3.4). Each agent's
 * advert says how many instances of each app it holds, so a query knows how many replies
 * to wait for and ends as soon as they are in.
 */
import { DEA_FIND_DROPLET } from '../../protocol/index.js';
import type { FindReply } from '../../protocol/index.js';
import type { Agent } from './fleet.js';
import type { Session } from './session.js';

export type Instance = FindReply;

/** States in which an instance holds (or will hold) a backend: what stop and scale count. */
export const LIVE_STATES: ReadonlySet<string> = new Set(['BORN', 'STARTING', 'RUNNING', 'EVACUATING']);

export interface FindQuery {
  readonly version?: string;
  readonly indices?: readonly number[];
  readonly states?: readonly string[];
  readonly includeStats?: boolean;
  /** Asks for `file_uri_v2` (the key is sent even when null, as CC's files API does). */
  readonly path?: string | null;
}

/** Every app id the agents hold, sorted. */
export function appIds(agents: readonly Agent[]): string[] {
  const ids = new Set<string>();
  for (const a of agents) for (const [app, n] of Object.entries(a.advert?.appCounts ?? {})) if (n > 0) ids.add(app);
  return [...ids].sort();
}

function expected(agents: readonly Agent[], app: string): number | undefined {
  // An agent out of placement has no advert; then only a quiet spell ends the wait.
  if (agents.some((a) => a.advert === null)) return undefined;
  return agents.reduce((n, a) => n + (Object.hasOwn(a.advert!.appCounts, app) ? a.advert!.appCounts[app]! : 0), 0);
}

export async function findInstances(session: Session, app: string, q: FindQuery = {}, agents?: readonly Agent[]): Promise<Instance[]> {
  const body: Record<string, unknown> = { droplet: app };
  if (q.version !== undefined) body.version = q.version;
  if (q.indices !== undefined) body.indices = [...q.indices];
  if (q.states !== undefined) body.states = [...q.states];
  if (q.includeStats === true) body.include_stats = true;
  if (q.path !== undefined) body.path = q.path;
  // Filters make fewer replies than the advert counts: only an unfiltered query can expect.
  const filtered = q.version !== undefined || q.indices !== undefined || q.states !== undefined;
  const expect = agents && !filtered ? expected(agents, app) : undefined;
  const replies = await session.collect<Instance>(DEA_FIND_DROPLET, body, { maxMs: 2_000, ...(expect !== undefined ? { expect } : {}) });
  return replies.filter((r) => typeof r?.droplet === 'string' && typeof r.index === 'number').sort(byIndex);
}

export function byIndex(a: Instance, b: Instance): number {
  return a.droplet.localeCompare(b.droplet) || a.index - b.index || a.dea.localeCompare(b.dea);
}

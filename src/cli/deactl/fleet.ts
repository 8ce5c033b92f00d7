/**
 * The agents on the bus, as a controller learns them: `dea.locate` makes every agent
 * advertise at once, `vcap.component.discover` gives each one's status server and its
 * credentials. The wait ends once every agent that answered one has answered both and the
 * bus has been quiet for a moment (an agent that has left placement only answers discover).
 */
import { COMPONENT_DISCOVER, DEA_ADVERTISE, DEA_LOCATE, DEA_SHUTDOWN } from '../../protocol/index.js';
import { fromAdvert, type PlacementAdvert } from '../../controller/placement.js';
import type { Session } from './session.js';

export interface Component {
  readonly uuid: string;
  /** `<ip>:<status port>` */
  readonly host: string;
  readonly credentials: readonly [string, string];
  readonly uptime: string;
  readonly index: number;
}

export interface Agent {
  readonly id: string;
  /** Its latest advert; null when it has left placement (USR1, evacuating, shutting down). */
  readonly advert: PlacementAdvert | null;
  readonly component: Component | null;
}

const QUIET_MS = 500;
const MAX_MS = 3_000;

function toComponent(raw: any): Component | null {
  if (typeof raw?.uuid !== 'string' || typeof raw.host !== 'string') return null;
  const creds = Array.isArray(raw.credentials) ? raw.credentials.map(String) : ['', ''];
  return { uuid: raw.uuid, host: raw.host, credentials: [creds[0] ?? '', creds[1] ?? ''], uptime: String(raw.uptime ?? ''), index: Number(raw.index ?? 0) };
}

/** Every agent, in the order their first message came (the first one's stack is the default). */
export async function discoverAgents(session: Session, opts: { quietMs?: number; maxMs?: number } = {}): Promise<Agent[]> {
  const quietMs = opts.quietMs ?? QUIET_MS;
  const order: string[] = [];
  const adverts = new Map<string, PlacementAdvert>();
  const components = new Map<string, Component>();
  const gone = new Set<string>();
  let last = Date.now();
  const seen = (id: string) => {
    if (!order.includes(id)) order.push(id);
    last = Date.now();
  };
  const subs = [
    session.listen(DEA_ADVERTISE, (m) => {
      if (typeof m.data?.id !== 'string' || gone.has(m.data.id)) return;
      adverts.set(m.data.id, fromAdvert(m.data));
      seen(m.data.id);
    }),
    session.listen(DEA_SHUTDOWN, (m) => {
      if (typeof m.data?.id !== 'string') return;
      gone.add(m.data.id);
      adverts.delete(m.data.id);
    }),
  ];
  await session.flush();
  session.publish(DEA_LOCATE, {});
  const replies = session.collect(COMPONENT_DISCOVER, {}, { maxMs: opts.maxMs ?? MAX_MS, quietMs });
  void replies.then((rs) => {
    for (const c of rs.map(toComponent)) if (c) (components.set(c.uuid, c), seen(c.uuid));
  });
  const started = Date.now();
  await replies;
  // Adverts of agents whose discover reply is in may still be on their way.
  while (Date.now() - started < (opts.maxMs ?? MAX_MS)) {
    const complete = order.every((id) => adverts.has(id) && components.has(id));
    if (complete && Date.now() - last >= quietMs) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const s of subs) s.unsubscribe();
  return order.map((id) => ({ id, advert: adverts.get(id) ?? null, component: components.get(id) ?? null }));
}

/** `0-1a2b3c…` → `0-1a2b3c`: enough to tell agents apart on one screen. */
export function shortId(id: string): string {
  const dash = id.indexOf('-');
  return dash < 0 ? id.slice(0, 8) : id.slice(0, dash + 7);
}

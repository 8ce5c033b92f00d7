/** `deactl stop APP [--index I]…`: stops the app's instances (all, or those indices). */
import { fail, Hints } from '../errors.js';
import { discoverAgents } from '../fleet.js';
import { findInstances, LIVE_STATES } from '../instances.js';
import { Output, type GlobalOptions } from '../output.js';
import { withSession } from '../run.js';
import { stopAndWait } from '../stopping.js';

export async function stop(app: string, indices: readonly number[], g: GlobalOptions): Promise<number> {
  const out = new Output(g.json);
  return withSession(g.nats, async (session) => {
    const agents = await discoverAgents(session);
    if (agents.length === 0) throw fail(Hints.noAgents(session.url));
    const all = await findInstances(session, app, {}, agents);
    if (all.length === 0) throw fail(Hints.unknownApp(app));
    const missing = indices.filter((i) => !all.some((inst) => inst.index === i));
    if (missing.length > 0) throw fail(Hints.noIndex(app, missing[0]!));
    const targets = all.filter((i) => LIVE_STATES.has(i.state) && (indices.length === 0 || indices.includes(i.index)));
    const left = await stopAndWait(session, app, indices.length > 0 ? indices : undefined);
    if (left.length > 0) throw fail(`${left.length} instance(s) of ${app} still stopping after 60 s: see deactl ls ${app}`);
    const stopped = targets.map((i) => ({ index: i.index, instance: i.instance, agent: i.dea }));
    out.result({ app, stopped }, () => `stopped ${stopped.length} instance(s) of ${app}${indices.length ? ` (index ${indices.join(', ')})` : ''}`);
    return 0;
  });
}

/** `deactl ls [APP]`: every instance, from `dea.find.droplet` with stats (protocol §3.4). */
import { discoverAgents, shortId, type Agent } from '../fleet.js';
import { appIds, findInstances, type Instance } from '../instances.js';
import { cpu, duration, table, usage } from '../format.js';
import { fail, Hints } from '../errors.js';
import { Output, type GlobalOptions } from '../output.js';
import { withSession } from '../run.js';
import type { Session } from '../session.js';

export async function listInstances(session: Session, agents: readonly Agent[], app?: string): Promise<Instance[]> {
  const apps = app !== undefined ? [app] : appIds(agents);
  const lists = await Promise.all(apps.map((a) => findInstances(session, a, { includeStats: true }, agents)));
  return lists.flat();
}

export function lsRow(i: Instance): string[] {
  const s = i.stats;
  return [
    i.droplet,
    String(i.index),
    i.state,
    shortId(i.dea),
    s?.port ? `${s.host}:${s.port}` : '-',
    duration(s?.uptime),
    cpu(s?.usage.cpu),
    usage(s?.usage.mem, s?.mem_quota),
    usage(s?.usage.disk, s?.disk_quota),
  ];
}

export const LS_HEAD = ['APP', 'INDEX', 'STATE', 'AGENT', 'ADDRESS', 'UPTIME', 'CPU', 'MEM', 'DISK'];

export async function ls(app: string | undefined, g: GlobalOptions): Promise<number> {
  const out = new Output(g.json);
  return withSession(g.nats, async (session) => {
    const agents = await discoverAgents(session);
    if (agents.length === 0) throw fail(Hints.noAgents(session.url));
    const instances = await listInstances(session, agents, app);
    if (app !== undefined && instances.length === 0) throw fail(Hints.unknownApp(app));
    out.result(instances, () => (instances.length === 0 ? 'no apps run on the agents: deactl push DROPLET --name NAME starts one' : table(LS_HEAD, instances.map(lsRow))));
    return 0;
  });
}

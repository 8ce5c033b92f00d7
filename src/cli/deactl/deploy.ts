/**
 * Starting instances of an app on the fleet, shared by push and scale: place each one
 * (as Cloud Controller did: docs/deactl.md, controller/placement.ts), send its start, and follow it to RUNNING or
 * CRASHED. A new push of an app that runs replaces it one index at a time: the new
 * instance must be RUNNING (so its route is registered) before the old one at that index
 * is stopped, so the route never loses its last backend.
 */
import { DEA_STOP, Subjects } from '../../protocol/index.js';
import { placeMany, type PlacementAdvert, type PlacementNeed, type Shortfall } from '../../controller/placement.js';
import { startMessage, type AppSpec } from '../../controller/start-message.js';
import type { DropletServer } from './droplet-server.js';
import { fail, Hints } from './errors.js';
import { discoverAgents, shortId, type Agent } from './fleet.js';
import type { Instance } from './instances.js';
import type { Rollout, Tracked } from './rollout.js';
import type { Session } from './session.js';

export interface Deployment {
  readonly session: Session;
  readonly spec: AppSpec;
  readonly server: DropletServer;
  readonly rollout: Rollout;
  readonly timeoutMs: number;
  readonly say: (line: string) => void;
}

export function needOf(spec: AppSpec): PlacementNeed {
  return { appId: spec.appId, stack: spec.stack, memMb: spec.memMb, diskMb: spec.diskMb };
}

export function shortfallMessage(why: Shortfall, need: PlacementNeed, url: string, placed: number, wanted: number): string {
  switch (why.kind) {
    case 'no-agents':
      return Hints.noAgents(url);
    case 'stack':
      return `no agent offers stack ${JSON.stringify(need.stack)} (they offer: ${why.offered.join(', ') || 'none'}): pass --stack with one of those`;
    case 'capacity': {
      const disk = why.bestDiskMb === null ? 'any' : `${why.bestDiskMb} MB`;
      const fitted = placed > 0 ? `only ${placed} of ${wanted} instances fit` : `no agent has room for an instance`;
      return `not enough capacity: ${fitted} of ${need.memMb} MB memory and ${need.diskMb} MB disk (the most free on one agent: ${why.bestMemoryMb} MB memory, ${disk} disk); lower --mem, --disk or --instances, or add an agent`;
    }
  }
}

export function adverts(agents: readonly Agent[]): PlacementAdvert[] {
  return agents.flatMap((a) => (a.advert ? [a.advert] : []));
}

/** Places every index first (nothing starts unless all fit), then starts them all. */
export async function startAll(d: Deployment, agents: readonly Agent[], indices: readonly number[]): Promise<Tracked[]> {
  const need = needOf(d.spec);
  const plan = placeMany(adverts(agents), need, indices.length);
  if (plan.short) throw fail(shortfallMessage(plan.short, need, d.session.url, plan.agents.length, indices.length));
  await d.rollout.ready();
  const zones = new Map(adverts(agents).map((a) => [a.id, a.zone]));
  indices.forEach((index, i) => send(d, index, plan.agents[i]!, zones.get(plan.agents[i]!) ?? ''));
  return d.rollout.settle(indices, d.timeoutMs);
}

function send(d: Deployment, index: number, agentId: string, zone: string): void {
  d.rollout.track(index, agentId);
  d.say(`  instance ${index} → agent ${shortId(agentId)} (zone ${zone})`);
  d.session.publish(Subjects.start(agentId), startMessage(d.spec, index, d.server.urlFor(agentId)));
}

export function stopInstances(session: Session, appId: string, instances: readonly Instance[]): void {
  if (instances.length === 0) return;
  session.publish(DEA_STOP, { droplet: appId, instances: instances.map((i) => i.instance) });
}

/**
 * One index at a time: place (with fresh adverts: the last stop freed room), start, wait
 * for RUNNING, then stop the old instances of that index. A new instance that does not
 * run ends the rollout there, the old ones still serving.
 */
export async function replaceOneByOne(d: Deployment, indices: readonly number[], old: readonly Instance[]): Promise<Tracked[]> {
  const need = needOf(d.spec);
  const done: Tracked[] = [];
  await d.rollout.ready();
  for (const index of indices) {
    const agents = await discoverAgents(d.session);
    const ads = adverts(agents);
    const plan = placeMany(ads, need, 1);
    if (plan.short) throw fail(`${shortfallMessage(plan.short, need, d.session.url, 0, 1)} (instances before ${index} are replaced; the old ones from ${index} on still run)`);
    send(d, index, plan.agents[0]!, ads.find((a) => a.id === plan.agents[0])?.zone ?? '');
    const [t] = await d.rollout.settle([index], d.timeoutMs);
    done.push(t!);
    if (t!.state !== 'RUNNING') break;
    const replaced = old.filter((o) => o.index === index);
    stopInstances(d.session, d.spec.appId, replaced);
    if (replaced.length > 0) d.say(`  instance ${index}: old version stopped`);
  }
  return done;
}

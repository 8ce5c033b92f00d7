/**
 * `deactl push DROPLET --name N …`: serve the droplet, place and start every instance,
 * follow them to RUNNING or CRASHED, print the URLs. Exit 1 when any did not run.
 */
import { randomBytes } from 'node:crypto';
import type { AppSpec } from '../../../controller/start-message.js';
import { adverts, replaceOneByOne, startAll, stopInstances, type Deployment } from '../deploy.js';
import { loadDroplet, type Droplet } from '../droplet.js';
import { serveAddress, serveDroplet, type DownloadEvent } from '../droplet-server.js';
import { fail, Hints } from '../errors.js';
import { discoverAgents, shortId, type Agent } from '../fleet.js';
import { findInstances, LIVE_STATES, type Instance } from '../instances.js';
import type { GlobalOptions } from '../output.js';
import { Output } from '../output.js';
import { Rollout, type Tracked } from '../rollout.js';
import { withSession } from '../run.js';
import type { Session } from '../session.js';
import { saveApp } from '../store.js';

export interface PushOptions {
  readonly name: string;
  readonly instances: number;
  readonly mem: number;
  readonly disk: number;
  readonly stack?: string;
  readonly uri: readonly string[];
  readonly env: readonly string[];
  readonly timeout: number;
}

export const FDS = 1024;

export async function push(dropletArg: string, opts: PushOptions, g: GlobalOptions): Promise<number> {
  const out = new Output(g.json);
  const droplet = await loadDroplet(dropletArg);
  // Ctrl-C mid-push: what started keeps running (deactl ls shows it); the packed copy goes.
  const interrupted = () => void droplet.dispose().finally(() => process.exit(130));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return await withSession(g.nats, (s) => pushWith(s, droplet, opts, out));
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await droplet.dispose();
  }
}

function defaultStack(agents: readonly Agent[], asked: string | undefined): string {
  if (asked !== undefined) return asked;
  const first = adverts(agents).find((a) => a.stacks.length > 0);
  if (!first) throw fail('no agent advertises a stack: give each agent a stacks: list in its config');
  return first.stacks[0]!;
}

function specOf(opts: PushOptions, droplet: Droplet, stack: string): AppSpec {
  const version = `${droplet.sha1.slice(0, 8)}-${randomBytes(4).toString('hex')}`;
  return { appId: opts.name, name: opts.name, version, stack, memMb: opts.mem, diskMb: opts.disk, fds: FDS, uris: [...opts.uri], env: [...opts.env], sha1: droplet.sha1 };
}

function downloads(out: Output): (e: DownloadEvent) => void {
  return (e) => out.say(`  droplet ${e.phase === 'started' ? 'downloading to' : e.phase === 'done' ? 'downloaded by' : 'download failed on'} agent ${shortId(e.agentId)}`);
}

async function pushWith(session: Session, droplet: Droplet, opts: PushOptions, out: Output): Promise<number> {
  const agents = await discoverAgents(session);
  if (adverts(agents).length === 0) throw fail(Hints.noAgents(session.url));
  const spec = specOf(opts, droplet, defaultStack(agents, opts.stack));
  const old = (await findInstances(session, spec.appId, {}, agents)).filter((i) => LIVE_STATES.has(i.state));
  out.say(`pushing ${spec.name} (${opts.instances} × ${spec.memMb} MB memory, ${spec.diskMb} MB disk, stack ${spec.stack}, droplet ${droplet.sha1.slice(0, 12)})`);
  const hosts = agents.map((a) => a.component?.host.split(':')[0] ?? '127.0.0.1');
  const server = await serveDroplet(droplet, serveAddress(hosts), downloads(out));
  const rollout = new Rollout(session, spec.appId, spec.version, (l) => out.say(l));
  try {
    const d: Deployment = { session, spec, server, rollout, timeoutMs: opts.timeout * 1000, say: (l) => out.say(l) };
    const indices = [...Array(opts.instances).keys()];
    if (old.length > 0) out.say(`  ${spec.name} runs ${old.length} instance(s): replacing them one index at a time`);
    const results = old.length > 0 ? await replaceOneByOne(d, indices, old) : await startAll(d, agents, indices);
    await saveApp({ ...spec, instances: opts.instances }, droplet.path);
    const complete = results.length === indices.length && results.every((t) => t.state === 'RUNNING');
    // Old instances past the new count go once the new ones all run.
    if (complete) stopInstances(session, spec.appId, old.filter((o) => o.index >= opts.instances));
    return await report(session, spec, results, out);
  } finally {
    rollout.close();
    await server.close();
  }
}

async function report(session: Session, spec: AppSpec, results: readonly Tracked[], out: Output): Promise<number> {
  const running = await findInstances(session, spec.appId, { version: spec.version, states: ['RUNNING'], includeStats: true });
  const urls = instanceUrls(spec, running);
  const failed = results.filter((t) => t.state !== 'RUNNING');
  const instances = results.map((t) => ({ index: t.index, agent: t.agentId, state: t.state, instance: t.instanceId, detail: t.detail }));
  out.result({ app: spec.appId, version: spec.version, stack: spec.stack, instances, urls }, () =>
    [...failed.map((t) => `instance ${t.index} ${t.state}: ${t.detail ?? ''}`), ...(urls.length ? ['', ...urls] : [])].join('\n'),
  );
  if (failed.length === 0) return 0;
  throw fail(`${failed.length} of ${results.length} instance(s) did not start (first: instance ${failed[0]!.index} ${failed[0]!.state}: ${failed[0]!.detail ?? ''}); see deactl logs ${spec.appId} --index ${failed[0]!.index}`);
}

/** The routes (http://uri) and each instance's own address. */
function instanceUrls(spec: AppSpec, running: readonly Instance[]): string[] {
  const direct = running.flatMap((i) => (i.stats?.port ? [`http://${i.stats.host}:${i.stats.port}/  (instance ${i.index})`] : []));
  return [...spec.uris.map((u) => `http://${u}/  (route)`), ...direct];
}

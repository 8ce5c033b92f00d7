/**
 * `deactl scale APP N`: starts the missing indices below N (placed as push places them,
 * from the droplet deactl kept when it pushed the app) or stops those from N up.
 */
import { stat } from 'node:fs/promises';
import { startAll, type Deployment } from '../deploy.js';
import { serveAddress, serveDroplet } from '../droplet-server.js';
import { fail, Hints } from '../errors.js';
import { discoverAgents, shortId } from '../fleet.js';
import { findInstances, LIVE_STATES } from '../instances.js';
import { Output, type GlobalOptions } from '../output.js';
import { Rollout } from '../rollout.js';
import { withSession } from '../run.js';
import type { Session } from '../session.js';
import { stopAndWait } from '../stopping.js';
import { dropletFile, loadApp, saveApp, type AppRecord } from '../store.js';

export async function scale(app: string, count: number, timeoutSecs: number, g: GlobalOptions): Promise<number> {
  const out = new Output(g.json);
  return withSession(g.nats, async (session) => {
    const agents = await discoverAgents(session);
    if (agents.length === 0) throw fail(Hints.noAgents(session.url));
    const all = await findInstances(session, app, {}, agents);
    const live = all.filter((i) => LIVE_STATES.has(i.state));
    const record = await loadApp(app);
    if (live.length === 0 && record === null) throw fail(Hints.unknownApp(app));
    const running = new Set(live.map((i) => i.index));
    const extra = [...running].filter((i) => i >= count).sort((a, b) => a - b);
    const missing = [...Array(count).keys()].filter((i) => !running.has(i));
    if (extra.length > 0) {
      out.say(`stopping instance(s) ${extra.join(', ')} of ${app}`);
      await stopAndWait(session, app, extra);
    }
    let failed = 0;
    if (missing.length > 0) failed = await startMissing(session, out, app, record, missing, timeoutSecs, new Set(all.map((i) => i.instance)));
    if (record) await saveApp({ ...record, instances: count }, dropletFile(record.sha1));
    out.result({ app, instances: count, started: missing, stopped: extra }, () => `${app}: ${count} instance(s) (started ${missing.length}, stopped ${extra.length})`);
    if (failed > 0) throw fail(`${failed} new instance(s) of ${app} did not start: see deactl ls ${app} and deactl logs ${app}`);
    return 0;
  });
}

async function startMissing(
  session: Session,
  out: Output,
  app: string,
  record: AppRecord | null,
  indices: number[],
  timeoutSecs: number,
  earlier: ReadonlySet<string>,
): Promise<number> {
  if (record === null || !(await stat(dropletFile(record.sha1)).catch(() => null))) {
    throw fail(`deactl has no copy of ${app}'s droplet (it was pushed from elsewhere): push it again with deactl push DROPLET --name ${app}`);
  }
  out.say(`starting instance(s) ${indices.join(', ')} of ${app}`);
  const agents = await discoverAgents(session);
  const droplet = { path: dropletFile(record.sha1), sha1: record.sha1, size: (await stat(dropletFile(record.sha1))).size, dispose: async () => undefined };
  const hosts = agents.map((a) => a.component?.host.split(':')[0] ?? '127.0.0.1');
  const server = await serveDroplet(droplet, serveAddress(hosts), (e) => e.phase === 'done' && out.say(`  droplet downloaded by agent ${shortId(e.agentId)}`));
  const rollout = new Rollout(session, app, record.version, (l) => out.say(l), earlier);
  try {
    const d: Deployment = { session, spec: record, server, rollout, timeoutMs: timeoutSecs * 1000, say: (l) => out.say(l) };
    const results = await startAll(d, agents, indices);
    return results.filter((t) => t.state !== 'RUNNING').length;
  } finally {
    rollout.close();
    await server.close();
  }
}

/**
 * `deactl status`: the agents (`vcap.component.discover` and `dea.advertise`) with their
 * capacity, and each one's varz summary fetched with the credentials it announced.
 */
import { fail, Hints } from '../errors.js';
import { discoverAgents, shortId, type Agent } from '../fleet.js';
import { bytes, table } from '../format.js';
import { Output, type GlobalOptions } from '../output.js';
import { withSession } from '../run.js';
import { fetchVarz, summarise, type VarzSummary } from '../varz.js';

interface AgentStatus {
  readonly id: string;
  readonly host: string | null;
  readonly stacks: readonly string[];
  readonly zone: string | null;
  readonly placing: boolean;
  readonly freeMemoryMb: number | null;
  readonly freeDiskMb: number | null;
  readonly instances: number;
  readonly varz: VarzSummary | null;
  readonly varzError: string | null;
}

async function statusOf(a: Agent): Promise<AgentStatus> {
  let varz: VarzSummary | null = null;
  let varzError: string | null = a.component ? null : 'no discover reply';
  if (a.component) {
    try {
      varz = summarise(await fetchVarz(a.component));
    } catch (err) {
      varzError = (err as Error).message;
    }
  }
  const ad = a.advert;
  return {
    id: a.id,
    host: a.component?.host ?? null,
    stacks: ad?.stacks ?? [],
    zone: ad?.zone ?? null,
    placing: ad !== null,
    freeMemoryMb: ad?.availableMemoryMb ?? null,
    freeDiskMb: ad?.availableDiskMb ?? null,
    instances: ad ? Object.values(ad.appCounts).reduce((n, c) => n + c, 0) : (varz?.instances ?? 0),
    varz,
    varzError,
  };
}

const mb = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v}M`);

function row(s: AgentStatus): string[] {
  const v = s.varz;
  return [
    shortId(s.id),
    s.host ?? '-',
    s.zone ?? '(not placing)',
    s.stacks.join(',') || '-',
    `${mb(s.freeMemoryMb)}/${mb(v?.reservedMemoryMb)}`,
    `${mb(s.freeDiskMb)}/${mb(v?.reservedDiskMb)}`,
    String(s.instances),
    v?.backend ?? '-',
    v ? `${v.uptime} cpu ${v.cpu ?? '-'}% rss ${bytes(v.memBytes)}` : `varz: ${s.varzError}`,
  ];
}

const HEAD = ['AGENT', 'HOST', 'ZONE', 'STACKS', 'MEM FREE/RES', 'DISK FREE/RES', 'INST', 'BACKEND', 'VARZ'];

export async function status(_o: unknown, g: GlobalOptions): Promise<number> {
  const out = new Output(g.json);
  return withSession(g.nats, async (session) => {
    const agents = await discoverAgents(session);
    if (agents.length === 0) throw fail(Hints.noAgents(session.url));
    const all = await Promise.all(agents.map(statusOf));
    out.result(all, () => `${table(HEAD, all.map(row))}\n${all.length} agent(s) on ${session.url.replace(/\/\/[^@/]*@/, '//')}`);
    return 0;
  });
}

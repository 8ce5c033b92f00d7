/**
 * One readable phrase for the messages an operator watches most (protocol §4); others,
 * and anything that does not look as expected, are shown as their (masked) JSON.
 */
import { shortId } from './fleet.js';
import { mask } from './mask.js';

type Summary = (d: any) => string | null;

const instanceList = (ds: any[]) => ds.map((e) => `${e.droplet}/${e.index} ${e.state}`).join(', ') || 'no instances';

const SUMMARIES: Record<string, Summary> = {
  'dea.heartbeat': (d) => (Array.isArray(d.droplets) && typeof d.dea === 'string' ? `${shortId(d.dea)}: ${instanceList(d.droplets)}` : null),
  'dea.advertise': (d) =>
    typeof d.id !== 'string' ? null : `${shortId(String(d.id))} zone ${d.placement_properties?.zone ?? 'default'}: ${d.available_memory}M memory, ${d.available_disk}M disk free; ` +
    (Object.entries(d.app_id_to_count ?? {}).map(([app, n]) => `${app}×${String(n)}`).join(' ') || 'no apps'),
  'router.register': (d) => (typeof d.host !== 'string' ? null : `${(d.uris ?? []).join(',') || '(no uris)'} → ${d.host}:${d.port} (${d.app ?? 'component'})`),
  'router.unregister': (d) => (typeof d.host !== 'string' ? null : `${(d.uris ?? []).join(',') || '(no uris)'} ↛ ${d.host}:${d.port} (${d.app ?? 'component'})`),
  'droplet.exited': (d) => (typeof d.droplet !== 'string' ? null : `${d.droplet}/${d.index} ${d.reason}: ${d.exit_description ?? ''} (exit ${d.exit_status})`),
  'dea.shutdown': (d) => (typeof d.id !== 'string' ? null : `${shortId(d.id)} leaves placement`),
  'dea.stop': (d) => (typeof d.droplet !== 'string' ? null : `stop ${d.droplet}${d.indices ? ` indices ${d.indices.join(',')}` : ''}${d.instances ? ` instances ${d.instances.length}` : ''}`),
};

function startSummary(d: any): string | null {
  if (typeof d.droplet !== 'string') return null;
  return `start ${d.droplet}/${d.index} version ${d.version} (${d.limits?.mem}M, stack ${d.stack ?? '-'})`;
}

export function summarise(subject: string, data: unknown): string {
  const d = data as any;
  if (d !== null && typeof d === 'object') {
    try {
      const pick = /^dea\.[^.]+\.start$/.test(subject) ? startSummary : SUMMARIES[subject];
      const s = pick?.(d);
      if (s) return s;
    } catch {
      // Not the shape we know: the JSON below says what it is.
    }
  }
  return typeof data === 'string' ? data : JSON.stringify(mask(data));
}

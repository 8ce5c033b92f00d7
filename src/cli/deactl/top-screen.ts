/**
 * deactl top's screen, pure: instances sorted by CPU or memory, each with usage bars
 * against its quota (CPU against one core), cut to the terminal's size. Fits 80 columns.
 */
import { shortId } from './fleet.js';
import { bar, cpu, fit, usage } from './format.js';
import type { Instance } from './instances.js';

export type SortKey = 'cpu' | 'mem';

export interface TopFrame {
  readonly instances: readonly Instance[];
  readonly agents: number;
  readonly sort: SortKey;
  readonly now: Date;
  readonly columns: number;
  readonly rows: number;
}

const BAR = 10;

function key(i: Instance, sort: SortKey): number {
  const u = i.stats?.usage;
  if (!u) return -1;
  return sort === 'cpu' ? u.cpu : i.stats!.mem_quota > 0 ? u.mem / i.stats!.mem_quota : 0;
}

/** Busiest first; instances without stats (not RUNNING) last, by app and index. */
export function sortInstances(list: readonly Instance[], sort: SortKey): Instance[] {
  return [...list].sort((a, b) => key(b, sort) - key(a, sort) || a.droplet.localeCompare(b.droplet) || a.index - b.index);
}

function row(i: Instance): string {
  const s = i.stats;
  const name = fit(`${i.droplet}/${i.index}`, 16).padEnd(16);
  const state = fit(i.state, 9).padEnd(9);
  const agent = shortId(i.dea).padEnd(9);
  const cpuCell = `${cpu(s?.usage.cpu).padStart(6)} ${bar(s ? s.usage.cpu : 0, BAR)}`;
  const memCell = `${usage(s?.usage.mem, s?.mem_quota).padStart(9)} ${bar(s && s.mem_quota > 0 ? s.usage.mem / s.mem_quota : 0, BAR)}`;
  return `${name} ${state} ${agent} ${cpuCell}  ${memCell}`;
}

export function renderTop(f: TopFrame): string[] {
  const sorted = sortInstances(f.instances, f.sort);
  const time = f.now.toISOString().slice(11, 19);
  const title = `deactl top: ${f.agents} agent(s), ${f.instances.length} instance(s), by ${f.sort === 'cpu' ? 'CPU' : 'memory'}`;
  const lines = [
    `${fit(title, f.columns - time.length - 1).padEnd(f.columns - time.length - 1)} ${time}`,
    fit('keys: c sort by CPU, m sort by memory, q quit', f.columns),
    fit(`${'APP/INDEX'.padEnd(16)} ${'STATE'.padEnd(9)} ${'AGENT'.padEnd(9)} ${'CPU'.padStart(6)} ${''.padEnd(BAR)}  ${'MEM'.padStart(9)}`, f.columns),
  ];
  const room = Math.max(1, f.rows - lines.length - 1);
  const shown = sorted.length > room ? sorted.slice(0, room - 1) : sorted;
  for (const i of shown) lines.push(fit(row(i), f.columns));
  if (shown.length < sorted.length) lines.push(`… ${sorted.length - shown.length} more`);
  if (sorted.length === 0) lines.push('no instances: deactl push DROPLET --name NAME starts some');
  return lines;
}

/** The soak's printed output: a line per batch, and the final report. */
import type { SoakArgs } from './args.js';
import type { Leaks } from './final.js';
import type { Model } from './model.js';

export function progress(line: string): void {
  process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export function batchLine(m: Model, counts: Record<string, number>, started: number): string {
  const byKind = Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ');
  const mins = ((Date.now() - started) / 60_000).toFixed(1);
  return `cycle ${m.cycle} at ${mins} min: ${byKind}; running ${m.inState('RUNNING').length}, crashed ${m.inState('CRASHED').length}, stopped ${m.inState('STOPPED').length}; discrepancies ${m.discrepancies.length}`;
}

export function finalReport(args: SoakArgs, m: Model, counts: Record<string, number>, leaks: Leaks | null, natsMode: string): string {
  const lines = [
    `soak: ${args.minutes} min, seed ${args.seed}, backend ${args.backend}, ${natsMode}`,
    `cycles: ${m.cycle} (${Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    `instances: ${m.instances.size} started, ${m.inState('CRASHED').length} crashed by the soak`,
  ];
  if (leaks === null) lines.push('leaks: not counted (the soak did not reach its end)');
  else for (const [kind, items] of Object.entries(leaks)) lines.push(`leaked ${kind}: ${items.length}${items.length > 0 ? `\n  ${items.join('\n  ')}` : ''}`);
  lines.push(`crash reports sent twice across a nats-server restart (at least once, none lost): ${m.resent.length}`);
  for (const r of m.resent) lines.push(`  ${r}`);
  lines.push(`discrepancies: ${m.discrepancies.length}`);
  for (const d of m.discrepancies) lines.push(`  [${d.at} cycle ${d.cycle}] ${d.what}`);
  return `${lines.join('\n')}\n`;
}

export function leakCount(leaks: Leaks | null): number {
  return leaks === null ? 0 : Object.values(leaks).reduce((s, l) => s + l.length, 0);
}

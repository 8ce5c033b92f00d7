/** Small statistics and formatting helpers for the benchmark tables. */

export interface Summary {
  readonly n: number;
  readonly median: number;
  /** Nearest-rank 90th percentile. */
  readonly p90: number;
  readonly min: number;
  readonly max: number;
}

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

export function median(xs: readonly number[]): number {
  const s = sorted(xs);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile: the smallest sample with at least p % of samples at or below it. */
export function percentile(xs: readonly number[], p: number): number {
  const s = sorted(xs);
  if (s.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

export function summarize(xs: readonly number[]): Summary {
  const s = sorted(xs);
  return { n: s.length, median: median(s), p90: percentile(s, 90), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN };
}

/** Rounds to `digits` decimals for the JSON file (keeps it readable). */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function roundSummary(s: Summary, digits = 2): Summary {
  return { n: s.n, median: round(s.median, digits), p90: round(s.p90, digits), min: round(s.min, digits), max: round(s.max, digits) };
}

export function ms(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${x.toFixed(digits)} ms` : 'n/a';
}

/** A plain-text table with left-aligned first column and right-aligned others. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Wall-clock milliseconds since the epoch with sub-millisecond resolution. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

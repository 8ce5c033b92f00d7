/** Pure formatting for deactl's tables and screens: sizes, durations, usage bars, tables. */
import Table from 'cli-table3';

const UNITS = ['B', 'K', 'M', 'G', 'T'];

/** 1536 → `1.5K`, 0 → `0B`: one decimal below ten units, whole above. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '-';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const shown = u === 0 || v >= 10 ? Math.round(v).toString() : v.toFixed(1);
  return `${shown}${UNITS[u]}`;
}

/** Seconds → `45s`, `12m03s`, `5h07m`, `3d04h`. */
export function duration(secs: number | null | undefined): string {
  if (secs === null || secs === undefined || !Number.isFinite(secs) || secs < 0) return '-';
  const s = Math.floor(secs);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** A fraction of one core (protocol §3.4) as a percentage: 0.123 → `12.3%`. */
export function cpu(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(1)}%`;
}

/** `used/quota` in sizes: `12M/128M`. */
export function usage(used: number | null | undefined, quota: number | null | undefined): string {
  if (used === null || used === undefined) return '-';
  return `${bytes(used)}/${bytes(quota)}`;
}

/** A bar `width` cells wide filled by `fraction` (clamped to [0, 1]): `█████░░░░░`. */
export function bar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const full = Math.round(f * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** Cuts `text` to `width` characters, with `…` when it had to. */
export function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** A borderless table: headings, then rows, columns two spaces apart. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const t = new Table({
    head: [...head],
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const r of rows) t.push([...r]);
  // cli-table3 pads the last column too; trailing blanks are noise in a terminal and a diff.
  return t.toString().split('\n').map((l) => l.trimEnd()).join('\n');
}

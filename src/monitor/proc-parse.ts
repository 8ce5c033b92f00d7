/**
 * Pure parsers for the /proc and cgroup files the monitor reads. No I/O here: the
 * readers hand in text (or bytes, for the hot /proc/<pid>/stat path) and get numbers.
 */

/** The fields of /proc/<pid>/stat the monitor uses (proc(5) field numbers in comments). */
export interface StatFields {
  /** 3: one letter, R S D Z T t X I … */
  readonly state: string;
  /** 4 */
  readonly ppid: number;
  /** 5 */
  readonly pgrp: number;
  /** 14, 15: this process's own CPU time, in clock ticks */
  readonly utimeTicks: number;
  readonly stimeTicks: number;
  /** 16, 17: CPU time of children it has waited for, in clock ticks */
  readonly cutimeTicks: number;
  readonly cstimeTicks: number;
  /** 20 */
  readonly numThreads: number;
  /** 22: start time after boot, in clock ticks; identifies the process across pid reuse */
  readonly startTicks: number;
  /** 24: resident set, in pages */
  readonly rssPages: number;
}

export interface ProcStat extends StatFields {
  /** 1 */
  readonly pid: number;
  /** 2: the command name without its parentheses; may hold spaces, ')' and newlines */
  readonly comm: string;
}

const DIGITS = /^\d+$/;
/**
 * Decoded stat fields have at most 15 digits, so both parsers compute them exactly (below
 * 2^53). Real values are far smaller: 10^15 ticks is 300,000 years of CPU.
 */
const MAX_DIGITS = 15;
const STAT_NUMBER = new RegExp(`^\\d{1,${MAX_DIGITS}}$`);
/** The last field decoded (rss): a line must reach it. */
const LAST_FIELD = 24;

/**
 * Parses a /proc/<pid>/stat line. The command name is split off at the LAST ')' because
 * it may itself contain ')' and spaces; everything after it is space-separated numbers.
 * Returns null for anything that is not a well-formed line.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open + 1 || text[close + 1] !== ' ') return null;
  const pidText = text.slice(0, open);
  if (!DIGITS.test(pidText)) return null;
  let rest = text.slice(close + 2);
  const nl = rest.indexOf('\n');
  if (nl >= 0) rest = rest.slice(0, nl);
  const fields = statFieldsFromTokens(rest.split(' '));
  if (fields === null) return null;
  return { pid: Number(pidText), comm: text.slice(open + 2, close), ...fields };
}

/** tokens[0] is field 3. */
function statFieldsFromTokens(tokens: readonly string[]): StatFields | null {
  if (tokens.length < LAST_FIELD - 2) return null;
  const state = tokens[0] ?? '';
  if (state.length !== 1) return null;
  const num = (field: number): number => {
    const t = tokens[field - 3] ?? '';
    return STAT_NUMBER.test(t) ? Number(t) : NaN;
  };
  const f: StatFields = {
    state,
    ppid: num(4),
    pgrp: num(5),
    utimeTicks: num(14),
    stimeTicks: num(15),
    cutimeTicks: num(16),
    cstimeTicks: num(17),
    numThreads: num(20),
    startTicks: num(22),
    rssPages: num(24),
  };
  return allNumbers(f) ? f : null;
}

function allNumbers(f: StatFields): boolean {
  return [f.ppid, f.pgrp, f.utimeTicks, f.stimeTicks, f.cutimeTicks, f.cstimeTicks, f.numThreads, f.startTicks, f.rssPages].every(
    Number.isFinite,
  );
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const CLOSE_PAREN = 0x29;
/** Field numbers decoded, which must be numbers; the others are skipped whatever they hold. */
const WANTED = new Set([4, 5, 14, 15, 16, 17, 20, 22, 24]);
/** Scratch for the byte parser: index = field number. Reused so a sample allocates one object. */
const scratch = new Float64Array(LAST_FIELD + 1);

/**
 * The same fields as parseProcStat, decoded straight from the bytes read into a reused
 * Buffer: no string is built on the per-tick path. Same acceptance rules as the text parser
 * (the property tests hold the two to each other).
 */
export function parseProcStatBytes(buf: Uint8Array, len: number): StatFields | null {
  let close = len - 1;
  while (close >= 0 && buf[close] !== CLOSE_PAREN) close--;
  if (close < 0 || close + 1 >= len || buf[close + 1] !== SPACE || !hasPidPrefix(buf, close)) return null;
  let i = close + 2;
  const stateStart = i;
  while (i < len && buf[i] !== SPACE && buf[i] !== NEWLINE) i++;
  if (i - stateStart !== 1) return null;
  const state = String.fromCharCode(buf[stateStart] ?? 0);
  for (let field = 4; field <= LAST_FIELD; field++) {
    if (i >= len || buf[i] !== SPACE) return null;
    const start = ++i;
    let v = 0;
    for (; i < len; i++) {
      const c = buf[i]!;
      if (c === SPACE || c === NEWLINE) break;
      v = c >= 0x30 && c <= 0x39 ? v * 10 + (c - 0x30) : NaN;
    }
    if (i === start || i - start > MAX_DIGITS) v = NaN;
    if (WANTED.has(field) && Number.isNaN(v)) return null;
    scratch[field] = v;
  }
  return {
    state,
    ppid: scratch[4]!,
    pgrp: scratch[5]!,
    utimeTicks: scratch[14]!,
    stimeTicks: scratch[15]!,
    cutimeTicks: scratch[16]!,
    cstimeTicks: scratch[17]!,
    numThreads: scratch[20]!,
    startTicks: scratch[22]!,
    rssPages: scratch[24]!,
  };
}

/** The text parser's rule that a line starts "<digits> (" and that ' (' precedes the last ')'. */
function hasPidPrefix(buf: Uint8Array, close: number): boolean {
  let i = 0;
  while (i < close && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
  return i > 0 && buf[i] === SPACE && buf[i + 1] === 0x28 && i + 1 < close;
}

export interface Statm {
  readonly sizePages: number;
  readonly residentPages: number;
  readonly sharedPages: number;
  readonly textPages: number;
  readonly dataPages: number;
}

/** /proc/<pid>/statm: "size resident shared text lib data dt", in pages. */
export function parseStatm(text: string): Statm | null {
  const t = text.trim().split(' ');
  if (t.length < 7 || !t.every((s) => DIGITS.test(s))) return null;
  const n = t.map(Number);
  return { sizePages: n[0]!, residentPages: n[1]!, sharedPages: n[2]!, textPages: n[3]!, dataPages: n[5]! };
}

/**
 * "key value" lines (memory.stat, cpu.stat, memory.events, v1 memory.oom_control).
 * Lines that are not a key and one integer are skipped. Values above 2^53 (unlimited
 * markers like 9223372036854771712) lose precision, which no caller cares about.
 */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const value = line.slice(sp + 1).trim();
    if (DIGITS.test(value)) out.set(line.slice(0, sp), Number(value));
  }
  return out;
}

/** A file holding one non-negative integer (cpuacct.usage, memory.usage_in_bytes, memory.current). */
export function parseSingleNumber(text: string): number | null {
  const t = text.trim();
  return DIGITS.test(t) ? Number(t) : null;
}

/** v1 cpuacct.usage: total CPU time of the group in nanoseconds. */
export const parseCpuacctUsage = parseSingleNumber;
/** v2 memory.current: bytes charged to the group, page cache included. */
export const parseMemoryCurrent = parseSingleNumber;
/** v1 memory.stat, v2 memory.stat: key → bytes (or counts). */
export const parseMemoryStat = parseKeyValues;

/**
 * The value of one key in "key value" text, found without splitting every line (v1
 * memory.stat has ~40 lines and is read per instance per tick). Null if absent or malformed.
 */
export function keyValue(text: string, key: string): number | null {
  const needle = `${key} `;
  let at = 0;
  if (!text.startsWith(needle)) {
    at = text.indexOf(`\n${needle}`) + 1;
    if (at === 0) return null;
  }
  at += needle.length;
  const end = text.indexOf('\n', at);
  const value = text.slice(at, end < 0 ? undefined : end).trim();
  return DIGITS.test(value) ? Number(value) : null;
}

/** v2 cpu.stat: usage_usec, the group's total CPU time in microseconds. */
export function parseCpuStatUsageUsec(text: string): number | null {
  return keyValue(text, 'usage_usec');
}

/** v2 memory.events (and v1 memory.oom_control since 4.13): processes killed by the OOM killer. */
export function parseOomKills(text: string): number | null {
  return keyValue(text, 'oom_kill');
}

/** Page cache of the group and its children: v1 `total_cache`, v2 `file`. */
export function cacheFromText(memoryStat: string): number | null {
  return keyValue(memoryStat, 'total_cache') ?? keyValue(memoryStat, 'file');
}

/** Anonymous memory of the group and its children: v1 `total_rss`, v2 `anon`. */
export function rssFromText(memoryStat: string): number | null {
  return keyValue(memoryStat, 'total_rss') ?? keyValue(memoryStat, 'anon');
}

/** inactiveFileBytes straight from memory.stat text. */
export function inactiveFileFromText(memoryStat: string): number {
  return keyValue(memoryStat, 'total_inactive_file') ?? keyValue(memoryStat, 'inactive_file') ?? 0;
}

/**
 * Inactive file cache from memory.stat: v1 has the hierarchical `total_inactive_file`
 * next to the group-only `inactive_file`; v2 has only `inactive_file` (always hierarchical).
 */
export function inactiveFileBytes(stat: ReadonlyMap<string, number>): number {
  return stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
}

/**
 * The working set: usage minus inactive file cache, floored at 0 (what cAdvisor, the
 * kubelet and Garden count against a memory limit).
 */
export function workingSetBytes(usageBytes: number, stat: ReadonlyMap<string, number>): number {
  return Math.max(0, usageBytes - inactiveFileBytes(stat));
}

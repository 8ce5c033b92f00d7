import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  inactiveFileBytes,
  inactiveFileFromText,
  keyValue,
  parseCpuacctUsage,
  parseCpuStatUsageUsec,
  parseKeyValues,
  parseMemoryCurrent,
  parseMemoryStat,
  parseOomKills,
  parseProcStat,
  parseProcStatBytes,
  parseStatm,
  workingSetBytes,
  type StatFields,
} from '../../../src/monitor/proc-parse.js';

/** Real lines from this machine (kernel 6.18). */
const INIT = '1 (process_api) S 0 0 0 0 -1 4194560 26285 5512549 0 427 78 160 39630 6552 10 -10 11 0 13 38248448 2730 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n';
const BASH = '15637 (bash) S 15636 15637 15637 0 -1 4194560 6035 297869 0 4 2 7 3818 231 20 0 1 0 104256 5251072 992 18446744073709551615 94173532377088 94173533166493 140735736414496 0 0 0 65536 4 1132560123 1 0 0 17 0 0 0 0 0 0 94173533399792 94173533448036 94174333296640 140735736421246 140735736421261 140735736421261 140735736422378 0\n';
/** /bin/sleep copied to a file named "a) b (c": the kernel's comm is the file name. */
const PARENS = '26665 (a) b (c) S 26664 26653 15637 0 -1 4194304 129 0 0 0 0 0 0 0 20 0 1 0 145964 2990080 414 18446744073709551615 93847414140928 93847414158857 140724069000240 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 93847414172944 93847414174208 93847719305216 140724069006053 140724069006068 140724069006068 140724069007339 0\n';

function bytesOf(text: string): StatFields | null {
  const b = Buffer.from(text, 'latin1');
  return parseProcStatBytes(b, b.length);
}

describe('parseProcStat on real lines', () => {
  it('reads init, whose priority and nice are negative', () => {
    expect(parseProcStat(INIT)).toEqual({
      pid: 1, comm: 'process_api', state: 'S', ppid: 0, pgrp: 0,
      utimeTicks: 78, stimeTicks: 160, cutimeTicks: 39630, cstimeTicks: 6552,
      numThreads: 11, startTicks: 13, rssPages: 2730,
    });
  });

  it('reads a shell', () => {
    expect(parseProcStat(BASH)).toMatchObject({ pid: 15637, comm: 'bash', ppid: 15636, utimeTicks: 2, stimeTicks: 7, startTicks: 104256, rssPages: 992 });
  });

  it('splits a command name holding ") " and " (" at the last parenthesis', () => {
    expect(parseProcStat(PARENS)).toMatchObject({ pid: 26665, comm: 'a) b (c', state: 'S', ppid: 26664, pgrp: 26653, startTicks: 145964, rssPages: 414 });
  });

  it('the byte parser agrees on each real line', () => {
    for (const line of [INIT, BASH, PARENS]) {
      const { pid: _pid, comm: _comm, ...fields } = parseProcStat(line)!;
      expect(bytesOf(line)).toEqual(fields);
    }
  });

  it('the byte parser ignores bytes past the given length (a reused buffer)', () => {
    const b = Buffer.alloc(1024, 0x29);
    const n = b.write(BASH, 'latin1');
    expect(parseProcStatBytes(b, n)).toMatchObject({ utimeTicks: 2, rssPages: 992 });
  });

  it('rejects truncated and malformed lines', () => {
    for (const bad of ['', '1 (x) S 0', BASH.slice(0, 60), 'x (bash) S' + BASH.slice(12), BASH.replace(' 992 ', ' 9a2 '), BASH.replace(' S ', ' SS ')]) {
      expect(parseProcStat(bad)).toBeNull();
      expect(bytesOf(bad)).toBeNull();
    }
  });
});

const STATES = 'RSDZTtXIPKW'.split('');
const tick = fc.nat({ max: 2 ** 40 });
/**
 * Command names as the kernel may print them: any byte but NUL, parentheses, spaces and
 * newlines included (as latin1 text, which is how the reader decodes them).
 */
const anyByte = fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c));
const comm = fc.string({ unit: fc.oneof(fc.constantFrom(' ', '(', ')', '\n', ') ', ' ('), anyByte), maxLength: 20 });

const statRecord = fc.record({
  pid: fc.integer({ min: 1, max: 4_194_304 }),
  comm,
  state: fc.constantFrom(...STATES),
  ppid: fc.nat({ max: 4_194_304 }),
  pgrp: fc.nat({ max: 4_194_304 }),
  utimeTicks: tick,
  stimeTicks: tick,
  cutimeTicks: tick,
  cstimeTicks: tick,
  numThreads: fc.integer({ min: 1, max: 100_000 }),
  startTicks: tick,
  rssPages: tick,
  nice: fc.integer({ min: -20, max: 19 }),
  tail: fc.array(fc.nat(), { minLength: 0, maxLength: 28 }),
});

type Rec = typeof statRecord extends fc.Arbitrary<infer T> ? T : never;

/** A stat line as the kernel formats it (fields 1–24, then whatever follows). */
function format(r: Rec): string {
  const f = [r.state, r.ppid, r.pgrp, 0, 0, -1, 4194560, 1, 2, 3, 4, r.utimeTicks, r.stimeTicks, r.cutimeTicks, r.cstimeTicks, 20, r.nice, r.numThreads, 0, r.startTicks, 123456, r.rssPages, ...r.tail];
  return `${r.pid} (${r.comm}) ${f.join(' ')}\n`;
}

describe('parseProcStat properties', () => {
  it('round-trips generated lines, whatever the command name holds', () => {
    fc.assert(
      fc.property(statRecord, (r) => {
        const { nice: _n, tail: _t, ...expected } = r;
        expect(parseProcStat(format(r))).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('the byte parser extracts the same fields from the same bytes', () => {
    fc.assert(
      fc.property(statRecord, (r) => {
        const { pid: _p, comm: _c, ...fields } = parseProcStat(format(r))!;
        expect(bytesOf(format(r))).toEqual(fields);
      }),
      { numRuns: 1000 },
    );
  });

  it('both parsers accept a line with a character inserted or dropped exactly when it is still well formed', () => {
    const mutated = fc.tuple(statRecord, fc.nat(), fc.constantFrom('', ' ', ')', '(', '\n', 'x', '-', '7')).map(([r, at, ch]) => {
      const line = format(r);
      const i = at % line.length;
      return line.slice(0, i) + ch + line.slice(i + (ch === '' ? 1 : 0));
    });
    fc.assert(
      fc.property(mutated, (line) => expectVerdict(line)),
      { numRuns: 2000 },
    );
  });

  it('both parsers accept a soup of stat-like tokens exactly when it is well formed (about 1 in 5 is)', () => {
    const token = fc.oneof(
      { weight: 20, arbitrary: fc.nat({ max: 99_999 }).map(String) },
      { weight: 1, arbitrary: fc.constantFrom('S', 'x', '', '-1', '(a)', ')', '1)', '\n', '9'.repeat(16)) },
    );
    const state = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('S', 'R') }, { weight: 1, arbitrary: fc.constantFrom('SS', '', ')') });
    const head = fc.oneof(
      { weight: 1, arbitrary: fc.constant('') },
      { weight: 4, arbitrary: fc.tuple(fc.nat({ max: 99_999 }), comm, state).map(([pid, c, st]) => `${pid} (${c}) ${st}`) },
    );
    const soup = fc.tuple(head, fc.array(token, { minLength: 18, maxLength: 26 })).map(([h, t]) => [h, ...t].join(' '));
    fc.assert(
      fc.property(soup, (line) => expectVerdict(line)),
      { numRuns: 2000 },
    );
  });

  it('both parsers refuse arbitrary text (any characters, or those a stat line is made of), without throwing', () => {
    const statChars = fc
      .tuple(fc.constantFrom('', '1 (', '42 (a) S '), fc.string({ unit: fc.constantFrom('1', '2', ' ', '(', ')', 'S', '\n', 'x'), maxLength: 120 }))
      .map(([start, rest]) => start + rest);
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), statChars), (s) => expectVerdict(s)),
      { numRuns: 1000 },
    );
  });
});

/**
 * proc(5)'s shape of a stat line, as a test oracle independent of both parsers: the pid,
 * " (", the command name up to the LAST ')', then " <state>" (one character) and fields
 * 4–24 separated by single spaces; the fields the monitor decodes are 1–15 digits, the
 * others anything without a space or newline. Whatever follows field 24 (after a space
 * or a newline) is not looked at.
 */
const DECODED_FIELDS = new Set([4, 5, 14, 15, 16, 17, 20, 22, 24]);
const FIELDS_AFTER_COMM = new RegExp(
  `^ [^ \\n]${Array.from({ length: 21 }, (_, i) => ` ${DECODED_FIELDS.has(i + 4) ? '\\d{1,15}' : '[^ \\n]*'}`).join('')}(?:[ \\n]|$)`,
);

function wellFormed(line: string): boolean {
  const close = line.lastIndexOf(')');
  return /^\d+ \(/.test(line) && close >= 0 && FIELDS_AFTER_COMM.test(line.slice(close + 1));
}

/** Both parsers accept `line` iff it is well formed, and then agree on every field. */
function expectVerdict(line: string): void {
  const t = parseProcStat(line);
  const b = bytesOf(line);
  if (!wellFormed(line)) {
    expect({ line, text: t, bytes: b }).toEqual({ line, text: null, bytes: null });
    return;
  }
  expect(t, JSON.stringify(line)).not.toBeNull();
  const { pid: _p, comm: _c, ...fields } = t!;
  expect(b).toEqual(fields);
}

describe('parseStatm', () => {
  it('reads a real line', () => {
    expect(parseStatm('730 458 430 5 0 89 0\n')).toEqual({ sizePages: 730, residentPages: 458, sharedPages: 430, textPages: 5, dataPages: 89 });
  });

  it('rejects short or non-numeric lines', () => {
    expect(parseStatm('730 458 430')).toBeNull();
    expect(parseStatm('730 458 x 5 0 89 0')).toBeNull();
  });
});

/** The head of this machine's root v1 memory.stat. */
const V1_MEMORY_STAT = `cache 9658368
rss 5304320
rss_huge 0
inactive_file 4096
active_file 491520
hierarchical_memory_limit 9223372036854771712
total_cache 749654016
total_rss 627900416
total_inactive_file 459837440
`;

/** A v2 memory.stat (kernel 6.x layout, trimmed); no total_ prefix, always hierarchical. */
const V2_MEMORY_STAT = `anon 10485760
file 52428800
kernel 1048576
inactive_anon 8388608
active_anon 2097152
inactive_file 41943040
active_file 10485760
pgfault 1200
`;

describe('cgroup file parsers', () => {
  it('v1 memory.stat: the hierarchical figures, and the working set from them', () => {
    const m = parseMemoryStat(V1_MEMORY_STAT);
    expect(m.get('total_rss')).toBe(627900416);
    expect(m.get('total_cache')).toBe(749654016);
    expect(inactiveFileBytes(m)).toBe(459837440);
    expect(workingSetBytes(1_000_000_000, m)).toBe(1_000_000_000 - 459837440);
  });

  it('v2 memory.stat: inactive_file, and a working set floored at 0', () => {
    const m = parseMemoryStat(V2_MEMORY_STAT);
    expect(inactiveFileBytes(m)).toBe(41943040);
    expect(workingSetBytes(64 * 2 ** 20, m)).toBe(64 * 2 ** 20 - 41943040);
    expect(workingSetBytes(1000, m)).toBe(0);
  });

  it('v1 cpuacct.usage and v2 memory.current: one number', () => {
    expect(parseCpuacctUsage('419305922\n')).toBe(419305922);
    expect(parseMemoryCurrent('8192\n')).toBe(8192);
    expect(parseMemoryCurrent('max\n')).toBeNull();
  });

  it('v2 cpu.stat: usage_usec', () => {
    const text = 'usage_usec 1599340553\nuser_usec 1246464088\nsystem_usec 352876465\nnice_usec 0\nnr_periods 0\n';
    expect(parseCpuStatUsageUsec(text)).toBe(1599340553);
    expect(parseCpuStatUsageUsec('user_usec 1\n')).toBeNull();
  });

  it('oom_kill from v2 memory.events and v1 memory.oom_control', () => {
    expect(parseOomKills('low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n')).toBe(2);
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 1\n')).toBe(1);
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\n')).toBeNull();
  });

  it('key-value lines skip anything malformed', () => {
    expect([...parseKeyValues('a 1\nb\n c 2\nd x\ne 3 4\nf 5\n')]).toEqual([['a', 1], ['f', 5]]);
  });

  it('one key is found at line starts only: total_inactive_file is not inactive_file', () => {
    expect(keyValue(V1_MEMORY_STAT, 'inactive_file')).toBe(4096);
    expect(keyValue(V1_MEMORY_STAT, 'total_inactive_file')).toBe(459837440);
    expect(keyValue(V1_MEMORY_STAT, 'cache')).toBe(9658368);
    expect(keyValue(V1_MEMORY_STAT, 'active')).toBeNull();
    expect(inactiveFileFromText(V1_MEMORY_STAT)).toBe(459837440);
    expect(inactiveFileFromText(V2_MEMORY_STAT)).toBe(41943040);
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\n')).toBeNull();
  });

  it('a one-key lookup agrees with the full parse', () => {
    const key = fc.stringMatching(/^[a-z_]{1,12}$/);
    const lines = fc.uniqueArray(fc.tuple(key, fc.oneof(fc.nat().map(String), fc.constantFrom('x', '', '1 2', 'max'))), {
      selector: ([k]) => k,
      maxLength: 12,
    });
    fc.assert(
      fc.property(lines, key, (kv, probe) => {
        const text = kv.map(([k, v]) => `${k} ${v}`).join('\n') + '\n';
        const all = parseKeyValues(text);
        for (const k of [probe, ...kv.map(([k]) => k)]) expect(keyValue(text, k)).toBe(all.get(k) ?? null);
      }),
      { numRuns: 500 },
    );
  });
});

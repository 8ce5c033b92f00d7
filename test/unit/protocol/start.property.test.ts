/**
 * The inbound parsers against the oracle in message-rules.ts: each accepts a payload
 * exactly when the protocol does, and otherwise throws a MessageError (never anything
 * else) naming exactly the fields at fault.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { parseFind, parseStart, parseStop, parseUpdate } from '../../../src/protocol/index.js';
import { startMessage } from './fixtures.js';
import { expectVerdict, FIND_RULES, START_RULES, STOP_RULES, UPDATE_RULES } from './message-rules.js';

const START = startMessage();
const START_KEYS = Object.keys(START);

/**
 * A field's replacement: anything JSON, often null, or the value of another field of a
 * real start message (a string where a list belongs, a list of routes as env, ...), so
 * that both verdicts come up often.
 */
const replacement = fc.oneof(fc.jsonValue(), fc.constant(null), fc.constantFrom(...Object.values(START)));

/** Start messages with some known keys replaced: near misses, and some hits. */
const mutatedStart = fc
  .dictionary(fc.constantFrom(...START_KEYS), replacement, { minKeys: 1, maxKeys: 4 })
  .map((over) => JSON.stringify({ ...START, ...over }));

/** A filter every one of stop, find and update accepts. */
const FILTER = {
  droplet: 'app-1',
  version: 'v1',
  instances: ['a'],
  instance_ids: ['b'],
  indices: [0, 2],
  states: ['running', 'CRASHED'],
  include_stats: true,
  path: 'logs/x',
  uris: ['web.example.com'],
};
const FILTER_KEYS = Object.keys(FILTER);

/** Filter-like objects: some of that filter's keys, some of them replaced. */
const filterObject = fc
  .tuple(
    fc.subarray(FILTER_KEYS),
    fc.dictionary(fc.constantFrom(...FILTER_KEYS), fc.oneof(replacement, fc.constantFrom(42, [-1], ['BOGUS'], [''])), { maxKeys: 2 }),
  )
  .map(([kept, over]) => JSON.stringify({ ...Object.fromEntries(kept.map((k) => [k, FILTER[k as keyof typeof FILTER]])), ...over }));

describe('parseStart accepts exactly what the protocol accepts', () => {
  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => expectVerdict(parseStart, JSON.stringify(v) ?? '', START_RULES)),
      { numRuns: 500 },
    );
  });

  it('on start messages with arbitrary field values', () => {
    fc.assert(
      fc.property(mutatedStart, (raw) => expectVerdict(parseStart, raw, START_RULES)),
      { numRuns: 1000 },
    );
  });

  it('on arbitrary text and bytes', () => {
    fc.assert(fc.property(fc.string(), (s) => expectVerdict(parseStart, s, START_RULES)), { numRuns: 200 });
    fc.assert(fc.property(fc.uint8Array(), (b) => expectVerdict(parseStart, b, START_RULES)), { numRuns: 200 });
  });
});

describe('the filter and update parsers accept exactly what the protocol accepts', () => {
  it('on arbitrary objects of their keys', () => {
    fc.assert(
      fc.property(filterObject, (raw) => {
        expectVerdict(parseStop, raw, STOP_RULES);
        expectVerdict(parseFind, raw, FIND_RULES);
        expectVerdict(parseUpdate, raw, UPDATE_RULES);
      }),
      { numRuns: 1000 },
    );
  });
});

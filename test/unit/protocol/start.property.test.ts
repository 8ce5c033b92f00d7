import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MessageError } from '../../../src/errors.js';
import { parseFind, parseStart, parseStop, parseUpdate } from '../../../src/protocol/index.js';
import { startMessage } from './fixtures.js';

/** Runs a parse and reports anything thrown that is not a MessageError. */
function onlyMessageErrors(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(MessageError);
  }
}

const START_KEYS = Object.keys(startMessage());

/** Start messages with some known keys replaced by arbitrary JSON values: near misses. */
const mutatedStart = fc
  .dictionary(fc.constantFrom(...START_KEYS), fc.jsonValue(), { maxKeys: 4 })
  .map((over) => JSON.stringify({ ...startMessage(), ...over }));

describe('parsers throw nothing but MessageError', () => {
  it('parseStart on arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => onlyMessageErrors(() => parseStart(JSON.stringify(v) ?? ''))), {
      numRuns: 500,
    });
  });

  it('parseStart on start messages with arbitrary field values', () => {
    fc.assert(fc.property(mutatedStart, (raw) => onlyMessageErrors(() => parseStart(raw))), { numRuns: 500 });
  });

  it('parseStart on arbitrary text and bytes', () => {
    fc.assert(fc.property(fc.string(), (s) => onlyMessageErrors(() => parseStart(s))), { numRuns: 200 });
    fc.assert(fc.property(fc.uint8Array(), (b) => onlyMessageErrors(() => parseStart(b))), { numRuns: 200 });
  });

  it('the filter and update parsers on arbitrary JSON objects', () => {
    const keys = ['droplet', 'version', 'instances', 'instance_ids', 'indices', 'states', 'include_stats', 'path', 'uris'];
    const objects = fc.dictionary(fc.constantFrom(...keys), fc.jsonValue()).map((o) => JSON.stringify(o));
    fc.assert(
      fc.property(objects, (raw) => {
        onlyMessageErrors(() => parseStop(raw));
        onlyMessageErrors(() => parseFind(raw));
        onlyMessageErrors(() => parseUpdate(raw));
      }),
      { numRuns: 500 },
    );
  });
});

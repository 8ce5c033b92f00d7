import { describe, expect, it } from 'vitest';
import { INSTANCE_STATES } from '../../../src/instance/types.js';
import { matchesFilter, parseAny, parseFind, parseStop, parseUpdate, type InstanceFilter } from '../../../src/protocol/index.js';
import { APP, VERSION, instance, problemsOf } from './fixtures.js';

describe('parseStop', () => {
  it('reads the bare app stop', () => {
    expect(parseStop(`{"droplet":"${APP}"}`)).toEqual({ droplet: APP });
  });

  it('unions instances and instance_ids, upper-cases states', () => {
    const raw = JSON.stringify({
      droplet: APP,
      version: VERSION,
      instances: ['a', 'b'],
      instance_ids: ['b', 'c'],
      indices: [0, 2],
      states: ['running', 'Crashed'],
      ignored: true,
    });
    expect(parseStop(raw)).toEqual({
      droplet: APP,
      version: VERSION,
      instanceIds: ['a', 'b', 'c'],
      indices: [0, 2],
      states: ['RUNNING', 'CRASHED'],
    });
  });

  it('treats null criteria as absent and keeps empty lists', () => {
    expect(parseStop(JSON.stringify({ droplet: 7, version: null, instances: null, indices: [] }))).toEqual({
      droplet: '7',
      indices: [],
    });
  });

  it.each([
    ['invalid JSON', 'nope', /^message: not valid JSON$/],
    ['{}', '{}', /^droplet: is required$/],
    ['an unknown state', `{"droplet":"a","states":["RUNNING","ZOMBIE"]}`, /^states\.1: unknown state "ZOMBIE"$/],
    ['a negative index', `{"droplet":"a","indices":[-1]}`, /^indices\.0: /],
    ['a string index list', `{"droplet":"a","indices":"0"}`, /^indices: /],
    ['a droplet with ".."', `{"droplet":".."}`, /^droplet: must not contain/],
  ])('rejects %s', (_name, raw, problem) => {
    expect(problemsOf(() => parseStop(raw))).toContainEqual(expect.stringMatching(problem));
  });
});

describe('parseFind', () => {
  it('reads stats and path options', () => {
    const raw = JSON.stringify({ droplet: APP, states: ['RUNNING'], include_stats: true, path: 'app/logs' });
    expect(parseFind(raw)).toEqual({ droplet: APP, states: ['RUNNING'], includeStats: true, hasPath: true, path: 'app/logs' });
  });

  it('sees a null path as a path request for the root', () => {
    expect(parseFind(`{"droplet":"${APP}","path":null}`)).toEqual({ droplet: APP, includeStats: false, hasPath: true, path: null });
    expect(parseFind(`{"droplet":"${APP}"}`)).toEqual({ droplet: APP, includeStats: false, hasPath: false, path: null });
  });

  it('rejects a non-boolean include_stats and an unknown state', () => {
    expect(problemsOf(() => parseFind(`{"droplet":"a","include_stats":"yes","states":["x"]}`))).toEqual([
      expect.stringMatching(/^states\.0: unknown state "X"$/),
      expect.stringMatching(/^include_stats: /),
    ]);
  });
});

describe('parseUpdate', () => {
  it('reads uris and the version', () => {
    expect(parseUpdate(JSON.stringify({ droplet: APP, uris: ['a.example.com'], version: 'v2' }))).toEqual({
      droplet: APP,
      uris: ['a.example.com'],
      version: 'v2',
      hasVersion: true,
    });
  });

  it('tells an absent version from a null one', () => {
    expect(parseUpdate(JSON.stringify({ droplet: APP, uris: [] }))).toEqual({ droplet: APP, uris: [], version: null, hasVersion: false });
    expect(parseUpdate(JSON.stringify({ droplet: APP, uris: [], version: null }))).toEqual({ droplet: APP, uris: [], version: null, hasVersion: true });
  });

  it('requires a list of uris', () => {
    expect(problemsOf(() => parseUpdate(`{"droplet":"a"}`))).toEqual(['uris: is required']);
    expect(problemsOf(() => parseUpdate(`{"droplet":"a","uris":"x.com"}`))).toEqual([expect.stringMatching(/^uris: /)]);
  });
});

describe('parseAny', () => {
  it('accepts empty bodies and any JSON', () => {
    expect(parseAny('')).toBeUndefined();
    expect(parseAny(new Uint8Array())).toBeUndefined();
    expect(parseAny(' \n')).toBeUndefined();
    expect(parseAny('{}')).toEqual({});
    expect(parseAny('[1,"a"]')).toEqual([1, 'a']);
  });

  it('reports non-empty garbage', () => {
    expect(problemsOf(() => parseAny('{', 'router.start'))).toEqual(['message: not valid JSON']);
  });
});

describe('matchesFilter', () => {
  const inst = instance({ instanceId: 'i1', state: 'RUNNING', version: 'v1' }, { instanceIndex: 2 });
  const table: [string, InstanceFilter, boolean][] = [
    ['app only', { droplet: APP }, true],
    ['another app', { droplet: 'other' }, false],
    ['same version', { droplet: APP, version: 'v1' }, true],
    ['other version', { droplet: APP, version: 'v2' }, false],
    ['its instance id', { droplet: APP, instanceIds: ['x', 'i1'] }, true],
    ['other instance ids', { droplet: APP, instanceIds: ['x'] }, false],
    ['an empty id list', { droplet: APP, instanceIds: [] }, false],
    ['its index', { droplet: APP, indices: [0, 2] }, true],
    ['other indices', { droplet: APP, indices: [0, 1] }, false],
    ['its state', { droplet: APP, states: ['STARTING', 'RUNNING'] }, true],
    ['other states', { droplet: APP, states: ['CRASHED'] }, false],
    ['all criteria', { droplet: APP, version: 'v1', instanceIds: ['i1'], indices: [2], states: ['RUNNING'] }, true],
    ['all but one criterion', { droplet: APP, version: 'v1', instanceIds: ['i1'], indices: [3], states: ['RUNNING'] }, false],
  ];

  it.each(table)('%s', (_name, filter, expected) => {
    expect(matchesFilter(filter, inst)).toBe(expected);
  });

  it('compares the current version, which dea.update may have cleared', () => {
    expect(matchesFilter({ droplet: APP, version: VERSION }, instance({ version: null }))).toBe(false);
    expect(matchesFilter({ droplet: APP }, instance({ version: null }))).toBe(true);
  });

  it('matches a parsed stop message against every state it names', () => {
    const filter = parseStop(JSON.stringify({ droplet: APP, states: INSTANCE_STATES.map((s) => s.toLowerCase()) }));
    for (const state of INSTANCE_STATES) expect(matchesFilter(filter, instance({ state }))).toBe(true);
  });
});

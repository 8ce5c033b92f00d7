import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import {
  DISK_RESERVING,
  LIVE,
  MEMORY_RESERVING,
  ROUTABLE,
  STOPPABLE,
  TransitionError,
  canTransition,
} from '../../../src/instance/states.js';
import { INSTANCE_STATES, type InstanceState } from '../../../src/instance/types.js';
import type { Transition } from '../../../src/instance/instance.js';
import { instanceIn, newInstance } from './fixtures.js';

/** Protocol §6.2 (v2-classic), written out independently of src. */
const ALLOWED: Record<InstanceState, InstanceState[]> = {
  BORN: ['STARTING', 'CRASHED', 'STOPPED', 'EVACUATING'],
  STARTING: ['RUNNING', 'CRASHED', 'STOPPING', 'EVACUATING'],
  RUNNING: ['CRASHED', 'STOPPING', 'EVACUATING'],
  EVACUATING: ['CRASHED', 'STOPPING'],
  STOPPING: ['STOPPED', 'STOPPING'],
  RESUMING: ['RUNNING', 'STOPPING', 'CRASHED', 'EVACUATING'],
  STOPPED: [],
  CRASHED: [],
};

const pairs = INSTANCE_STATES.flatMap((from) => INSTANCE_STATES.map((to) => [from, to] as const));
const allowed = pairs.filter(([from, to]) => ALLOWED[from].includes(to));
const forbidden = pairs.filter(([from, to]) => !ALLOWED[from].includes(to));

describe('the transition table', () => {
  it('covers every pair of the eight states', () => {
    expect(INSTANCE_STATES).toHaveLength(8);
    expect(allowed.length + forbidden.length).toBe(64);
    expect(allowed).toHaveLength(19);
  });

  it.each(allowed)('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    const inst = instanceIn(from);
    inst.transition(to, 99_000);
    expect(inst.state).toBe(to);
    expect(inst.stateTimestamp).toBe(99_000);
  });

  it.each(forbidden)('forbids %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    const inst = instanceIn(from);
    const stamp = inst.stateTimestamp;
    let thrown: unknown;
    try {
      inst.transition(to, 99_000);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TransitionError);
    const err = thrown as TransitionError;
    expect(err.message).toBe(`Cannot transition from ${from} to ${to}`);
    expect(err.code).toBe(ErrorCodes.TRANSITION_INVALID);
    expect([err.from, err.to]).toEqual([from, to]);
    expect(inst.state).toBe(from);
    expect(inst.stateTimestamp).toBe(stamp);
  });

  it('STOPPED and CRASHED are final', () => {
    for (const to of INSTANCE_STATES) {
      expect(canTransition('STOPPED', to)).toBe(false);
      expect(canTransition('CRASHED', to)).toBe(false);
    }
  });
});

describe('Instance.transition', () => {
  it('tells every listener, after the state changed, with from and to', () => {
    const seen: [InstanceState, InstanceState, InstanceState][] = [];
    const listener = (t: Transition) => seen.push([t.from, t.to, t.instance.state]);
    const inst = newInstance({}, [listener, listener]);
    inst.transition('STARTING', 2_000);
    expect(seen).toEqual([
      ['BORN', 'STARTING', 'STARTING'],
      ['BORN', 'STARTING', 'STARTING'],
    ]);
  });

  it('tells no one about a refused transition', () => {
    const seen: Transition[] = [];
    const inst = newInstance({}, [(t) => seen.push(t)]);
    expect(() => inst.transition('RUNNING', 2_000)).toThrow('Cannot transition from BORN to RUNNING');
    expect(seen).toEqual([]);
  });

  it('stamps STARTING and CRASHED times', () => {
    const inst = newInstance();
    expect([inst.startingTimestamp, inst.crashTimestamp]).toEqual([null, null]);
    inst.transition('STARTING', 2_000);
    inst.transition('RUNNING', 3_000);
    inst.transition('CRASHED', 4_000);
    expect([inst.startingTimestamp, inst.crashTimestamp, inst.stateTimestamp]).toEqual([2_000, 4_000, 4_000]);
  });
});

describe('state sets (protocol §3.2, §7.3, §8.1)', () => {
  const sorted = (s: ReadonlySet<InstanceState>) => [...s].sort();

  it('memory is reserved in BORN, STARTING, RUNNING and STOPPING', () => {
    expect(sorted(MEMORY_RESERVING)).toEqual(['BORN', 'RUNNING', 'STARTING', 'STOPPING']);
  });

  it('disk also while CRASHED (the directory is kept)', () => {
    expect(sorted(DISK_RESERVING)).toEqual(['BORN', 'CRASHED', 'RUNNING', 'STARTING', 'STOPPING']);
  });

  it('dea.stop acts on BORN, STARTING, RUNNING, STOPPING and EVACUATING', () => {
    expect(sorted(STOPPABLE)).toEqual(['BORN', 'EVACUATING', 'RUNNING', 'STARTING', 'STOPPING']);
  });

  it('routes belong to RUNNING and EVACUATING', () => {
    expect(sorted(ROUTABLE)).toEqual(['EVACUATING', 'RUNNING']);
  });

  it('a process may live in STARTING, RUNNING, STOPPING, EVACUATING and RESUMING', () => {
    expect(sorted(LIVE)).toEqual(['EVACUATING', 'RESUMING', 'RUNNING', 'STARTING', 'STOPPING']);
  });
});

import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../src/staging/single-flight.js';

/** A run the test finishes by hand, recording the signal it was given. */
function manualRun() {
  const runs: { signal: AbortSignal; resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
  const start = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      runs.push({ signal, resolve, reject });
    });
  return { runs, start };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('SingleFlight', () => {
  it('concurrent callers of one key share one run and its result; a later call runs anew', async () => {
    const flights = new SingleFlight<string>('abandoned');
    const { runs, start } = manualRun();
    const a = flights.run('k', start);
    const b = flights.run('k', start);
    expect(runs).toHaveLength(1);
    expect(flights.has('k')).toBe(true);
    runs[0]?.resolve('done');
    await expect(Promise.all([a, b])).resolves.toEqual(['done', 'done']);
    await flush();
    expect(flights.has('k')).toBe(false);
    void flights.run('k', start);
    expect(runs).toHaveLength(2);
  });

  it('other keys run on their own', () => {
    const flights = new SingleFlight<string>('abandoned');
    const { runs, start } = manualRun();
    void flights.run('a', start);
    void flights.run('b', start);
    expect(runs).toHaveLength(2);
  });

  it('every caller sees the failure', async () => {
    const flights = new SingleFlight<string>('abandoned');
    const { runs, start } = manualRun();
    const all = Promise.allSettled([flights.run('k', start), flights.run('k', start)]);
    runs[0]?.reject(new Error('boom'));
    expect((await all).map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('a caller that aborts leaves at once with its reason; the run goes on for the others', async () => {
    const flights = new SingleFlight<string>('abandoned');
    const { runs, start } = manualRun();
    const ac = new AbortController();
    const leaving = flights.run('k', start, ac.signal);
    const staying = flights.run('k', start);
    ac.abort(new Error('stop requested'));
    await expect(leaving).rejects.toThrow('stop requested');
    expect(runs[0]?.signal.aborted).toBe(false);
    runs[0]?.resolve('done');
    await expect(staying).resolves.toBe('done');
  });

  it('the run is aborted, with the reason given, once every caller has gone', async () => {
    const flights = new SingleFlight<string>('every fetch of this droplet was aborted');
    const { runs, start } = manualRun();
    const first = new AbortController();
    const second = new AbortController();
    const p1 = flights.run('k', start, first.signal);
    const p2 = flights.run('k', start, second.signal);
    first.abort(new Error('one'));
    await expect(p1).rejects.toThrow('one');
    expect(runs[0]?.signal.aborted).toBe(false);
    second.abort(new Error('two'));
    await expect(p2).rejects.toThrow('two');
    expect(runs[0]?.signal.reason).toEqual(new Error('every fetch of this droplet was aborted'));
  });
});

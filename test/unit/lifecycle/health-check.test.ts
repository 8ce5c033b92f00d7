import { describe, expect, it } from 'vitest';
import { nextDelayMs, stateIsRunning, waitHealthy, type HealthCheckSpec } from '../../../src/lifecycle/health-check.js';
import { VirtualClock } from '../../support/virtual-clock.js';
import { MemoryAppFiles } from './fakes.js';

const PORT_CHECK: HealthCheckSpec = { host: '127.0.0.1', port: 61_000, stateFile: null, checkPort: true, timeoutMs: 3_000 };

/** A probe that answers true from `upAtMs` of the clock on, counting its calls. */
function harness(upAtMs = Infinity) {
  const clock = new VirtualClock();
  const start = clock.now();
  const probes: number[] = [];
  const files = new MemoryAppFiles();
  const probe = async () => {
    probes.push(clock.now() - start);
    return clock.now() - start >= upAtMs;
  };
  return { clock, probes, files, deps: { clock, probe, files } };
}

describe('waitHealthy', () => {
  it('probes every 2 ms in the first second, then every 50 ms, and is healthy at the first yes', async () => {
    const h = harness(1_100);
    const healthy = waitHealthy(PORT_CHECK, h.deps, new AbortController().signal);
    await h.clock.advance(1_100);
    await expect(healthy).resolves.toBe(true);
    expect(h.probes.slice(0, 3)).toEqual([0, 2, 4]);
    expect(h.probes.filter((t) => t > 1_000)).toEqual([1_050, 1_100]);
  });

  it('is not healthy while the listener on its port is another process\'s', async () => {
    const h = harness(0); // something answers at once
    let mine = false;
    let result: boolean | undefined;
    void waitHealthy(PORT_CHECK, { ...h.deps, owned: async () => mine }, new AbortController().signal).then((r) => (result = r));
    await h.clock.advance(500);
    expect(result).toBeUndefined();
    mine = true;
    await h.clock.advance(2);
    expect(result).toBe(true);
  });

  it('gives up at the timeout, not before', async () => {
    const h = harness();
    let result: boolean | undefined;
    void waitHealthy(PORT_CHECK, h.deps, new AbortController().signal).then((r) => (result = r));
    await h.clock.advance(2_999);
    expect(result).toBeUndefined();
    await h.clock.advance(1);
    expect(result).toBe(false);
    expect(h.probes.at(-1)).toBe(3_000);
  });

  it('stops at once when aborted', async () => {
    const h = harness();
    const ac = new AbortController();
    const healthy = waitHealthy(PORT_CHECK, h.deps, ac.signal);
    await h.clock.advance(10);
    ac.abort(new Error('stopping'));
    await expect(healthy).rejects.toThrow('stopping');
    const probed = h.probes.length;
    await h.clock.advance(1_000);
    expect(h.probes).toHaveLength(probed);
  });

  it('a worker without URIs is healthy without a probe', async () => {
    const h = harness();
    await expect(waitHealthy({ ...PORT_CHECK, checkPort: false }, h.deps, new AbortController().signal)).resolves.toBe(true);
    expect(h.probes).toEqual([]);
  });

  it('a state file takes precedence over the port', async () => {
    const h = harness(0);
    const spec = { ...PORT_CHECK, stateFile: { dir: '/i', path: 'state.json' } };
    let result: boolean | undefined;
    void waitHealthy(spec, h.deps, new AbortController().signal).then((r) => (result = r));
    await h.clock.advance(100);
    expect(result).toBeUndefined();
    h.files.files.set('/i/state.json', '{"state":"RUNNING"}');
    await h.clock.advance(2);
    expect(result).toBe(true);
    expect(h.probes).toEqual([]);
  });
});

describe('nextDelayMs and stateIsRunning', () => {
  it('backs off to dea_ng pace after 10 s', () => {
    expect([0, 999, 1_000, 9_999, 10_000, 60_000].map(nextDelayMs)).toEqual([2, 2, 50, 50, 500, 500]);
  });

  it('only {"state": "RUNNING"} is running', () => {
    expect(stateIsRunning('{"state":"RUNNING"}')).toBe(true);
    for (const text of [null, '', 'RUNNING', 'null', '5', '{"state":"STARTING"}', '{"state":"RUN']) expect(stateIsRunning(text), String(text)).toBe(false);
  });
});

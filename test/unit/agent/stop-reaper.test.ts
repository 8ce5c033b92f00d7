import { afterEach, describe, expect, it } from 'vitest';
import type { ExitInfo } from '../../../src/backends/types.js';
import type { Instance } from '../../../src/instance/instance.js';
import type { RouteMessage } from '../../../src/protocol/index.js';
import { APP, memoryAgent } from './memory-agent.js';

type Harness = ReturnType<typeof memoryAgent>;
const open: Harness[] = [];

afterEach(async () => {
  for (const h of open.splice(0)) await h.clock.runUntilSettled(h.agent.shutdown(), { maxMs: 120_000 });
});

/** An instance whose graceful stops never return (a hung backend call, say); each call's grace is kept. */
async function stuckOnStop(h: Harness): Promise<{ inst: Instance; graces: number[] }> {
  const inst = await h.startRunning();
  const proc = h.process(inst);
  const stop = proc.stop.bind(proc);
  const graces: number[] = [];
  proc.stop = (graceMs: number) => {
    graces.push(graceMs);
    return graceMs > 0 ? new Promise<ExitInfo>(() => undefined) : stop(graceMs);
  };
  return { inst, graces };
}

describe('the STOPPING reaper', () => {
  it('stops an instance stuck in STOPPING for a minute again, with KILL at once', async () => {
    const h = memoryAgent();
    open.push(h);
    const { inst, graces } = await stuckOnStop(h);
    h.inject('dea.stop', { droplet: APP });
    await h.clock.advance(0);
    expect(inst.state).toBe('STOPPING');
    const stoppingSince = inst.stateTimestamp;

    await h.clock.advance(59_000);
    expect(inst.state).toBe('STOPPING');
    expect(graces).toEqual([10_000]);

    // The reaper looks every 10 s: by 70 s it has found the stop a minute old.
    await h.until(() => inst.state === 'STOPPED', 'STOPPED', 11_000);
    expect(h.clock.now() - stoppingSince).toBeGreaterThanOrEqual(60_000);
    expect(h.clock.now() - stoppingSince).toBeLessThanOrEqual(70_000);
    expect(graces).toEqual([10_000, 0]);
    expect(h.backend.alive()).toEqual([]);
    expect(h.agent.registry.all()).toEqual([]);
    // Entering STOPPING again unregistered again: harmless, and the route is surely gone.
    expect(h.on<RouteMessage>('router.unregister').map((m) => m.private_instance_id)).toEqual([inst.privateInstanceId, inst.privateInstanceId]);
  });

  it('leaves a stop that is merely slow alone', async () => {
    // TERM is ignored; only the KILL after the 50 s grace ends it, inside the minute.
    const h = memoryAgent({ config: { instance: { stop_grace_secs: 50 } }, script: { ignoreTerm: true } });
    open.push(h);
    const inst = await h.startRunning();
    h.inject('dea.stop', { droplet: APP });
    await h.until(() => inst.state === 'STOPPED', 'STOPPED', 55_000);
    expect(h.backend.stops.map((s) => s.graceMs)).toEqual([50_000]);
    await h.clock.advance(120_000);
    expect(h.backend.stops).toHaveLength(1);
  });

  it('keeps retrying, a minute apart, a stop that keeps hanging', async () => {
    const h = memoryAgent();
    open.push(h);
    const inst = await h.startRunning();
    const proc = h.process(inst);
    proc.stop = () => new Promise<ExitInfo>(() => undefined);
    h.inject('dea.stop', { droplet: APP });
    await h.clock.advance(0);
    // Retried at about 70, 130 and 190 s (the reaper looks every 10 s).
    await h.clock.advance(200_000);
    expect(inst.state).toBe('STOPPING');
    // The replaced stop records nothing; each attempt shows as entering STOPPING (unregister).
    expect(h.on('router.unregister')).toHaveLength(1 + 3);
    // Let the shutdown in afterEach end: the process finally goes.
    proc.stop = async () => {
      proc.signal('KILL');
      return proc.exited;
    };
    await h.clock.advance(60_000);
    expect(inst.state).toBe('STOPPED');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { DropletExitedMessage, HeartbeatMessage, RouteMessage } from '../../../src/protocol/index.js';
import { APP, DEA_ID, START, memoryAgent, startMessage } from './memory-agent.js';

type Harness = ReturnType<typeof memoryAgent>;
const open: Harness[] = [];

function harness(config: Record<string, unknown> = {}): Harness {
  const h = memoryAgent({ config });
  open.push(h);
  return h;
}

afterEach(async () => {
  for (const h of open.splice(0)) await h.clock.runUntilSettled(h.agent.shutdown());
});

/** Records whether (and how) the evacuation ended, without waiting for it. */
function watchEnd(h: Harness): { how: string | null } {
  const seen: { how: string | null } = { how: null };
  void h.agent.evacuated.then((how) => (seen.how = how));
  return seen;
}

const states = (beat: HeartbeatMessage | undefined) => beat?.droplets.map((d) => [d.index, d.state]);

describe('USR2 evacuation', () => {
  it('says goodbye, stops advertising and marks every RUNNING instance EVACUATING, routes kept', async () => {
    const h = harness();
    const a = await h.startRunning({ index: 0 });
    const b = await h.startRunning({ index: 1 });
    await h.clock.advance(0);
    const adverts = h.on('dea.advertise').length;

    void h.agent.evacuate();
    expect(h.on('dea.shutdown')).toEqual([expect.objectContaining({ id: DEA_ID, app_id_to_count: { [APP]: 2 } })]);
    expect([a.state, b.state]).toEqual(['EVACUATING', 'EVACUATING']);
    expect(h.on<DropletExitedMessage>('droplet.exited').map((m) => [m.index, m.reason])).toEqual([
      [0, 'DEA_EVACUATION'],
      [1, 'DEA_EVACUATION'],
    ]);
    await h.clock.advance(0);
    expect(states(h.on<HeartbeatMessage>('dea.heartbeat').at(-1))).toEqual([
      [0, 'EVACUATING'],
      [1, 'EVACUATING'],
    ]);

    // A minute on: heartbeats and route refreshes went on, adverts did not, nothing unregistered.
    const beats = h.on('dea.heartbeat').length;
    const regs = h.on('router.register').length;
    h.inject('dea.locate', {});
    await h.clock.advance(60_000);
    const later = h.on<HeartbeatMessage>('dea.heartbeat').slice(beats);
    expect(later).toHaveLength(6);
    for (const beat of later) expect(states(beat)).toEqual([[0, 'EVACUATING'], [1, 'EVACUATING']]);
    expect(h.on<RouteMessage>('router.register').slice(regs).map((m) => m.private_instance_id)).toEqual([
      a.privateInstanceId, b.privateInstanceId, a.privateInstanceId, b.privateInstanceId, a.privateInstanceId, b.privateInstanceId,
    ]);
    expect(h.on('dea.advertise')).toHaveLength(adverts);
    expect(h.on('staging.advertise')).toHaveLength(adverts);
    expect(h.on('router.unregister')).toEqual([]);
    expect([a.state, b.state]).toEqual(['EVACUATING', 'EVACUATING']);
    expect(h.backend.alive()).toHaveLength(2);
  });

  it('refuses starts while evacuating: no instance, nothing reserved or launched', async () => {
    const h = harness();
    await h.startRunning();
    void h.agent.evacuate();
    const launches = h.backend.launches.length;
    h.inject(START, startMessage({ droplet: 'late-app' }));
    await h.clock.advance(1_000);
    expect(h.agent.registry.forApp('late-app')).toEqual([]);
    expect(h.backend.launches).toHaveLength(launches);
    expect(h.on('droplet.exited').filter((m) => (m as DropletExitedMessage).droplet === 'late-app')).toEqual([]);
  });

  it('is over once the controller has stopped every evacuated instance; their routes go with the stop', async () => {
    const h = harness();
    const a = await h.startRunning({ index: 0 });
    const b = await h.startRunning({ index: 1 });
    const end = watchEnd(h);
    void h.agent.evacuate();

    h.inject('dea.stop', { droplet: APP, instance_ids: [a.instanceId] });
    await h.until(() => a.state === 'STOPPED', 'a STOPPED');
    expect(h.on<RouteMessage>('router.unregister').map((m) => m.private_instance_id)).toEqual([a.privateInstanceId]);
    await h.clock.advance(0);
    expect(end.how).toBeNull();

    h.inject('dea.stop', { droplet: APP, instance_ids: [b.instanceId] });
    await h.until(() => end.how !== null, 'evacuation over');
    expect(end.how).toBe('evacuated');
    expect(b.state).toBe('STOPPED');
    expect(h.on<RouteMessage>('router.unregister').map((m) => m.private_instance_id)).toEqual([a.privateInstanceId, b.privateInstanceId]);
  });

  it('counts a crash as done', async () => {
    const h = harness();
    const a = await h.startRunning();
    const end = watchEnd(h);
    void h.agent.evacuate();
    h.process(a).exit(1);
    await h.until(() => end.how !== null, 'evacuation over');
    expect(end.how).toBe('evacuated');
    expect(a.state).toBe('CRASHED');
    expect(h.on<DropletExitedMessage>('droplet.exited').map((m) => m.reason)).toEqual(['DEA_EVACUATION', 'CRASHED']);
  });

  it('with no instance it is over at once', async () => {
    const h = harness();
    const end = watchEnd(h);
    void h.agent.evacuate();
    await h.clock.advance(0);
    expect(end.how).toBe('evacuated');
    expect(h.on('dea.shutdown')).toHaveLength(1);
  });

  it('bails out after evacuation_bail_out_time_in_seconds; the shutdown then stops what remains, routes last', async () => {
    const h = harness({ evacuation_bail_out_time_in_seconds: 30 });
    const a = await h.startRunning();
    const end = watchEnd(h);
    void h.agent.evacuate();
    await h.clock.advance(29_990);
    expect(end.how).toBeNull();
    expect(h.on('router.unregister')).toEqual([]);
    await h.clock.advance(10);
    expect(end.how).toBe('bail_out');
    expect(a.state).toBe('EVACUATING');

    await h.clock.runUntilSettled(h.agent.shutdown());
    expect(a.state).toBe('STOPPED');
    expect(h.on<RouteMessage>('router.unregister').map((m) => m.private_instance_id)).toEqual([a.privateInstanceId]);
    expect(h.backend.alive()).toEqual([]);
  });

  it('lets a start under way finish, then evacuates it: healthy → EVACUATING with its route', async () => {
    const h = harness();
    h.probe.healthy = false;
    const s = h.start();
    await h.until(() => h.backend.launches.length === 1, 'launched');
    const end = watchEnd(h);
    void h.agent.evacuate();
    expect(s.state).toBe('STARTING');
    await h.clock.advance(1_000);
    expect(end.how).toBeNull();

    h.probe.healthy = true;
    await h.until(() => s.state !== 'STARTING', 'start finished');
    expect(s.state).toBe('EVACUATING');
    expect(h.on<RouteMessage>('router.register').map((m) => m.private_instance_id)).toEqual([s.privateInstanceId]);
    expect(h.on<DropletExitedMessage>('droplet.exited').map((m) => m.reason)).toEqual(['DEA_EVACUATION']);
    await h.clock.advance(0);
    expect(states(h.on<HeartbeatMessage>('dea.heartbeat').at(-1))).toEqual([[0, 'EVACUATING']]);
    expect(end.how).toBeNull();
  });

  it('a start under way that fails ends CRASHED, and that ends the evacuation', async () => {
    const h = harness();
    h.probe.healthy = false;
    const s = h.start({ health_check_timeout: 5 });
    await h.until(() => h.backend.launches.length === 1, 'launched');
    const end = watchEnd(h);
    void h.agent.evacuate();
    await h.until(() => end.how !== null, 'evacuation over');
    expect(s.state).toBe('CRASHED');
    expect(end.how).toBe('evacuated');
  });

  it('a TERM during the evacuation shuts down: every instance stopped, the evacuation over', async () => {
    const h = harness();
    const a = await h.startRunning();
    const end = watchEnd(h);
    void h.agent.evacuate();
    await h.clock.runUntilSettled(h.agent.shutdown());
    expect(a.state).toBe('STOPPED');
    await h.clock.advance(0);
    expect(end.how).toBe('shutdown');
    expect(h.clock.pending()).toBe(0);
  });

  it('a second USR2 changes nothing', async () => {
    const h = harness();
    await h.startRunning();
    void h.agent.evacuate();
    void h.agent.evacuate();
    expect(h.on('dea.shutdown')).toHaveLength(1);
    expect(h.on('droplet.exited')).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { INSTANCE_STATES } from '../../../src/instance/types.js';
import { dropletExited, heartbeat, routeMessage } from '../../../src/protocol/index.js';
import { APP, DEA_ID, INSTANCE_ID, PRIVATE_ID, VERSION, instance } from './fixtures.js';

describe('heartbeat', () => {
  it('has exactly the HM9000 fields, timestamps in float seconds', () => {
    expect(heartbeat(DEA_ID, [instance()])).toEqual({
      droplets: [
        {
          cc_partition: 'default',
          droplet: APP,
          version: VERSION,
          instance: INSTANCE_ID,
          index: 0,
          state: 'RUNNING',
          state_timestamp: 1453370000.123,
        },
      ],
      dea: DEA_ID,
    });
  });

  it('includes STARTING, RUNNING, CRASHED, EVACUATING and nothing else', () => {
    const all = INSTANCE_STATES.map((state) => instance({ state, instanceId: state }));
    const states = heartbeat(DEA_ID, all).droplets.map((d) => d.state);
    expect(states).toEqual(['STARTING', 'RUNNING', 'CRASHED', 'EVACUATING']);
  });

  it('says where each instance with a port is reached, given the agent\'s address', () => {
    const [entry] = heartbeat(DEA_ID, [instance({ hostPort: 61001 })], '10.0.0.5').droplets;
    expect(entry).toMatchObject({ instance: INSTANCE_ID, host: '10.0.0.5', port: 61001 });
    expect(heartbeat(DEA_ID, [instance({ hostPort: null })], '10.0.0.5').droplets[0]).not.toHaveProperty('host');
  });

  it('is still sent with no instances', () => {
    expect(heartbeat(DEA_ID, [])).toEqual({ droplets: [], dea: DEA_ID });
  });

  it('falls back to the start version when the current one was cleared', () => {
    expect(heartbeat(DEA_ID, [instance({ version: null })]).droplets[0]?.version).toBe(VERSION);
    expect(heartbeat(DEA_ID, [instance({ version: 'v9' })]).droplets[0]?.version).toBe('v9');
  });
});

describe('droplet.exited', () => {
  it('carries an integer crash timestamp for a crashed instance', () => {
    const crashed = instance({
      state: 'CRASHED',
      exitStatus: 137,
      exitDescription: 'out of memory',
      crashTimestamp: 1453370100987,
    });
    expect(dropletExited(crashed, 'CRASHED')).toEqual({
      cc_partition: 'default',
      droplet: APP,
      version: VERSION,
      instance: INSTANCE_ID,
      index: 0,
      reason: 'CRASHED',
      exit_status: 137,
      exit_description: 'out of memory',
      crash_timestamp: 1453370100,
    });
  });

  it('leaves out crash_timestamp unless the instance is CRASHED with a crash time', () => {
    const evacuating = instance({ state: 'EVACUATING', crashTimestamp: 1453370100987 });
    expect(dropletExited(evacuating, 'DEA_EVACUATION')).toEqual({
      cc_partition: 'default',
      droplet: APP,
      version: VERSION,
      instance: INSTANCE_ID,
      index: 0,
      reason: 'DEA_EVACUATION',
      exit_status: -1,
      exit_description: '',
    });
    expect(dropletExited(instance({ state: 'CRASHED' }), 'CRASHED')).not.toHaveProperty('crash_timestamp');
  });
});

describe('router messages', () => {
  const ctx = { deaId: DEA_ID, host: '10.0.16.5', index: 3 };

  it('registers the instance URIs', () => {
    expect(routeMessage(ctx, instance())).toEqual({
      dea: DEA_ID,
      app: APP,
      uris: ['web.example.com'],
      host: '10.0.16.5',
      port: 61001,
      tags: { component: 'dea-3' },
      private_instance_id: PRIVATE_ID,
    });
  });

  it('sends only the given URIs when told', () => {
    expect(routeMessage(ctx, instance(), ['new.example.com']).uris).toEqual(['new.example.com']);
  });

  it('refuses an instance without a valid port', () => {
    expect(() => routeMessage(ctx, instance({ hostPort: null }))).toThrow(RangeError);
    expect(() => routeMessage(ctx, instance({ hostPort: 61001.5 }))).toThrow(RangeError);
    expect(() => routeMessage(ctx, instance({ hostPort: 70000 }))).toThrow(RangeError);
  });
});

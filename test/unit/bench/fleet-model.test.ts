import { describe, expect, it } from 'vitest';
import { fleetLoad, heartbeatLimit, linear } from '../../../bench/fleet/model.js';

const sizes = { heartbeat: { base: 50, perInstance: 200 }, advertise: { base: 150, perInstance: 40 }, register: 250 };
const shape = { agents: 10, instancesPerAgent: 20, heartbeatS: 10, advertiseS: 5, routerRegisterS: 20, routers: 4, controllers: 2, healthManagers: 1, broadcastOpsPerS: 3 };

describe('the fleet model', () => {
  it('adds up what every agent publishes on its intervals', () => {
    const load = fleetLoad(shape, sizes);
    // per agent: 0.1 heartbeat + 0.2 advert + 20/20 registrations a second
    expect(load.publishedMsgs).toBeCloseTo(10 * 1.3);
    expect(load.publishedBytes).toBeCloseTo(10 * ((50 + 200 * 20) / 10 + (150 + 40 * 20) / 5 + (20 * 250) / 20));
    expect(load.heartbeatBytes).toBe(4050);
  });

  it('fans each subject out to its subscribers', () => {
    const load = fleetLoad(shape, sizes);
    // and every agent gets each of the 3 broadcasts a second
    expect(load.deliveredMsgs).toBeCloseTo(10 * (0.1 * 1 + 0.2 * 2 + 1 * 4) + 3 * 10);
    expect(load.perRouterMsgs).toBeCloseTo(10);
    expect(load.perAgentInMsgs).toBe(3);
  });

  it('finds where a heartbeat outgrows the payload limit, and fits a line through two sizes', () => {
    expect(heartbeatLimit(sizes, 1024 * 1024)).toBe(Math.floor((1048576 - 50) / 200));
    expect(linear(0, 50, 500, 100_050)).toEqual({ base: 50, perInstance: 200 });
  });
});

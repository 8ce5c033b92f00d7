import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentHandle } from '../support/agent-process.js';
import { agentSuite, type AgentSuite } from '../support/agent-suite.js';
import type { RecordedMessage } from '../support/bus-client.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON */

/**
 * USR2 evacuation on a real agent over a real nats-server, with real app processes (the
 * process backend, pinned: what is checked here does not depend on the backend).
 */
const FAST = {
  backend: { kind: 'process' },
  intervals: { heartbeat: 1, advertise: 1, router_register_in_seconds: 1 },
};

let s: AgentSuite;
beforeAll(async () => {
  s = await agentSuite(FAST);
});
afterAll(async () => s?.close());

/** A heartbeat of `agent` listing exactly `n` instances of `app`, all in `state`. */
const beatOf = (agent: AgentHandle, app: string, state: string, n: number) => (m: RecordedMessage) => {
  if (m.data.dea !== agent.id) return false;
  const mine = m.data.droplets.filter((d: any) => d.droplet === app);
  return mine.length === n && mine.every((d: any) => d.state === state);
};
const ofApp = (app: string) => (m: RecordedMessage) => m.data.app === app;

/** Whether something accepts connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Resolves with the exit code, or rejects after `ms`: an agent that never exits fails the test. */
function exitWithin(agent: AgentHandle, ms: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not exit within ${ms} ms`)), ms);
    void agent.exited.then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('USR2 evacuation', () => {
  it('leaves placement, keeps heartbeats and routes, refuses starts, and exits 0 once the controller stopped every instance', async () => {
    const agent = s.agent;
    const app = 'evac-web';
    const [beats, regs, unregs, byes, adverts] = ['dea.heartbeat', 'router.register', 'router.unregister', 'dea.shutdown', 'dea.advertise'].map((subject) => s.bus.record(subject));
    await Promise.all([beats, regs, unregs, byes, adverts].map((r) => r!.ready()));
    await s.startOn(agent, 'serves-http', app, { index: 0 });
    await s.startOn(agent, 'serves-http', app, { index: 1 });
    await beats!.waitFor(beatOf(agent, app, 'RUNNING', 2), 30_000);
    const ports = [...new Set(regs!.filter(ofApp(app)).map((m) => m.data.port as number))];
    expect(ports).toHaveLength(2);

    agent.child.kill('SIGUSR2');
    const bye = await byes!.waitFor((m) => m.data.id === agent.id);
    expect(bye.data.app_id_to_count).toEqual({ [app]: 2 });
    // Everything published up to here (a last advert, say) has arrived; from now on nothing may.
    await s.roundTrip(agent);
    adverts!.clear();
    regs!.clear();

    // Heartbeats go on, every one listing both instances EVACUATING; routes are refreshed.
    beats!.clear();
    await beats!.waitForCount(3, beatOf(agent, app, 'EVACUATING', 2));
    const refreshed = await regs!.waitForCount(4, ofApp(app));
    expect(new Set(refreshed.map((m) => m.data.port))).toEqual(new Set(ports));
    for (const port of ports) expect(await listening(port)).toBe(true);

    // A start now gets no instance.
    await s.startOn(agent, 'serves-http', 'evac-late');
    await agent.waitForLog((l) => l.event === 'dea.start.refused' && l.app_id === 'evac-late' && l.why === 'evacuating');
    expect(await s.find({ droplet: 'evac-late' }, agent)).toEqual([]);

    await s.roundTrip(agent);
    expect(adverts!.filter((m) => m.data.id === agent.id)).toEqual([]);
    expect(unregs!.filter(ofApp(app))).toEqual([]);

    // The controller stops the evacuated instances one by one (HM9000 does, once it has replacements).
    const found = await s.find({ droplet: app }, agent);
    expect(found.map((f) => f.state).sort()).toEqual(['EVACUATING', 'EVACUATING']);
    s.bus.publish('dea.stop', { droplet: app, instance_ids: [found[0].instance] });
    await unregs!.waitFor(ofApp(app));
    await agent.waitForLog((l) => l.event === 'instance.stopped' && l.instance_id === found[0].instance);
    await s.roundTrip(agent);
    expect(agent.child.exitCode).toBeNull();
    expect((await s.find({ droplet: app }, agent)).map((f) => f.instance)).toEqual([found[1].instance]);

    s.bus.publish('dea.stop', { droplet: app, instance_ids: [found[1].instance] });
    expect(await exitWithin(agent, 30_000)).toBe(0);
    expect(unregs!.filter(ofApp(app))).toHaveLength(2);
    expect(agent.logs().find((l) => l.event === 'agent.evacuation.finished')).toMatchObject({ how: 'evacuated', remaining: 0 });
    for (const port of ports) expect(await listening(port)).toBe(false);
    for (const r of [beats, regs, unregs, byes, adverts]) r!.stop();
  }, 120_000);

  it('bails out after evacuation_bail_out_time_in_seconds: stops what remains, unregisters its routes, exits 0', async () => {
    const agent = await s.startAgent({ config: { ...FAST, evacuation_bail_out_time_in_seconds: 2 } });
    const app = 'bail-web';
    const [beats, regs, unregs] = ['dea.heartbeat', 'router.register', 'router.unregister'].map((subject) => s.bus.record(subject));
    await Promise.all([beats, regs, unregs].map((r) => r!.ready()));
    await s.startOn(agent, 'serves-http', app);
    await beats!.waitFor(beatOf(agent, app, 'RUNNING', 1), 30_000);
    const port = regs!.filter(ofApp(app))[0]!.data.port as number;

    agent.child.kill('SIGUSR2');
    await beats!.waitFor(beatOf(agent, app, 'EVACUATING', 1));
    // The route stays until the bail-out: anything unregistered before this heartbeat would be here.
    expect(unregs!.filter(ofApp(app))).toEqual([]);
    expect(await listening(port)).toBe(true);

    expect(await exitWithin(agent, 30_000)).toBe(0);
    expect(unregs!.filter(ofApp(app))).toHaveLength(1);
    const logs = agent.logs();
    expect(logs.find((l) => l.event === 'agent.evacuation.finished')).toMatchObject({ how: 'bail_out', remaining: 1 });
    // Not before its time, by the agent's own clock.
    const at = (event: string) => Date.parse(String(logs.find((l) => l.event === event)?.time));
    expect(at('agent.evacuation.finished') - at('agent.evacuation.started')).toBeGreaterThanOrEqual(1_990);
    expect(await listening(port)).toBe(false);
    for (const r of [beats, regs, unregs]) r!.stop();
  }, 90_000);

  it('a TERM during the evacuation shuts down at once and gracefully', async () => {
    const agent = await s.startAgent({ config: FAST });
    const app = 'evac-term';
    const beats = s.bus.record('dea.heartbeat');
    const regs = s.bus.record('router.register');
    await Promise.all([beats.ready(), regs.ready()]);
    await s.startOn(agent, 'serves-http', app);
    await beats.waitFor(beatOf(agent, app, 'RUNNING', 1), 30_000);
    const port = regs.filter(ofApp(app))[0]!.data.port as number;
    agent.child.kill('SIGUSR2');
    await beats.waitFor(beatOf(agent, app, 'EVACUATING', 1));
    agent.child.kill('SIGTERM');
    expect(await exitWithin(agent, 30_000)).toBe(0);
    expect(agent.logs().find((l) => l.event === 'agent.evacuation.finished')).toMatchObject({ how: 'shutdown' });
    expect(await listening(port)).toBe(false);
    beats.stop();
    regs.stop();
  }, 90_000);
});

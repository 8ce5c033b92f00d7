import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentHandle } from '../../support/agent-process.js';
import { connectTestClient, type TestBusClient } from '../../support/bus-client.js';
import { tearDown } from '../../support/cleanup.js';
import { eventually } from '../../support/eventually.js';
import { startNatsServer, type NatsServerHandle } from '../../support/nats-server.js';
import { startNotifyReceiver, type NotifyReceiver, type Received } from './notify-receiver.js';

// The real agent, as systemd runs it: NOTIFY_SOCKET names a datagram socket (a python3
// receiver here) and WATCHDOG_USEC asks for pings; a 1 s watchdog means one every 500 ms.
const WATCHDOG_USEC = 1_000_000;
const PING_MS = WATCHDOG_USEC / 2000;

let nats: NatsServerHandle | undefined;
let receiver: NotifyReceiver | undefined;
let agent: AgentHandle | undefined;
let bus: TestBusClient | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
  receiver = await startNotifyReceiver();
  bus = await connectTestClient(nats.url);
  agent = await startAgent({ natsUrl: nats.url, env: { NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: String(WATCHDOG_USEC) } });
});

afterAll(() => tearDown({ agent, bus, nats }, receiver && (() => receiver!.close())));

const texts = (rs: Received[]) => rs.map((r) => r.text);

describe('the agent under a NOTIFY_SOCKET', () => {
  it('says STATUS=connecting to NATS, then READY=1 once it answers on the bus', async () => {
    const ready = await receiver!.waitFor((r) => r.text.startsWith('READY=1'), 'READY=1');
    // Subscribed before READY=1: a request sent the moment it arrives is answered.
    const [status] = await bus!.request('dea.status', {}, { expect: 1 });
    expect(status).toMatchObject({ id: agent!.id });
    expect(ready.text).toBe('READY=1\nSTATUS=serving 0 instances');
    const all = texts(receiver!.received()).filter((t) => t !== 'WATCHDOG=1');
    expect(all.slice(0, 2)).toEqual(['STATUS=connecting to NATS', 'READY=1\nSTATUS=serving 0 instances']);
    // Sent by the agent's helper, a child of the agent: why the unit says NotifyAccess=all.
    expect(ready.pid).not.toBe(agent!.child.pid);
    expect(ready.ppid).toBe(agent!.child.pid);
    const enabled = await agent!.waitForLog((l) => l.event === 'systemd.notify.enabled');
    expect(enabled).toMatchObject({ socket: receiver!.socket, watchdogEveryMs: PING_MS });
  });

  it('pings WATCHDOG=1 every WATCHDOG_USEC/2', async () => {
    const pings = await eventually(() => {
      const p = receiver!.received().filter((r) => r.text === 'WATCHDOG=1');
      return p.length >= 7 ? p : false;
    }, 20_000, 'seven WATCHDOG=1 pings');
    // Six intervals: never faster than asked (timers do not fire early), and on a busy
    // machine still well inside the watchdog (a late ping would fail the unit).
    const span = pings[6]!.atMs - pings[0]!.atMs;
    expect(span).toBeGreaterThanOrEqual(6 * PING_MS - 50);
    expect(span).toBeLessThan(6 * PING_MS * 3);
  });

  it('says STOPPING=1 on SIGTERM while still running, then exits 0 and its helper with it', async () => {
    const helper = receiver!.received()[0]!.pid;
    const agentPid = agent!.child.pid;
    expect(await agent!.stop('SIGTERM')).toBe(0);
    const stopping = await receiver!.waitFor((r) => r.text.startsWith('STOPPING=1'), 'STOPPING=1');
    expect(stopping.text).toBe('STOPPING=1\nSTATUS=shutting down: stopping instances');
    // Its sender's parent was still the agent when it arrived: sent before the exit.
    expect(stopping.ppid).toBe(agentPid);
    const after = texts(receiver!.received().slice(receiver!.received().indexOf(stopping) + 1));
    expect(after.filter((t) => t !== 'WATCHDOG=1')).toEqual([]);
    await eventually(() => !existsSync(`/proc/${helper}`), 15_000, 'the notify helper to exit');
  });
});

describe('an agent whose WATCHDOG_PID names another process', () => {
  it('does not ping: the watchdog belongs to that process', async () => {
    const other = await startAgent({
      natsUrl: nats!.url,
      env: { NOTIFY_SOCKET: receiver!.socket, WATCHDOG_USEC: String(WATCHDOG_USEC), WATCHDOG_PID: '1' },
    });
    try {
      const enabled = await other.waitForLog((l) => l.event === 'systemd.notify.enabled');
      expect(enabled.watchdogEveryMs).toBeNull();
    } finally {
      await other.dispose();
    }
  });
});

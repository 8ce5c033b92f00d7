import { describe, expect, it } from 'vitest';
import {
  createSdNotify, notifyEnvFrom, openSdNotify, statusLine, noopSdNotify, STATUS_EVERY_MS, type Every, type NotifySender,
} from '../../../src/platform/sd-notify.js';
import { silentLogger } from '../../../src/platform/logger.js';

/** Records what would go out as datagrams. */
function fakeSender(): NotifySender & { sent: string[]; closed: boolean } {
  const s = { sent: [] as string[], closed: false, send: (m: string) => void s.sent.push(m), close: async () => void (s.closed = true) };
  return s;
}

/** Timers the test fires by hand: `fire(ms)` runs every live repeat of that period once. */
function fakeEvery(): { every: Every; fire(ms: number): void; live(): number[] } {
  const timers = new Map<number, { ms: number; fn: () => void }>();
  let next = 0;
  return {
    every: (ms, fn) => {
      const id = next++;
      timers.set(id, { ms, fn });
      return () => void timers.delete(id);
    },
    fire: (ms) => [...timers.values()].filter((t) => t.ms === ms).forEach((t) => t.fn()),
    live: () => [...timers.values()].map((t) => t.ms),
  };
}

describe('notifyEnvFrom', () => {
  it('is null without NOTIFY_SOCKET (not started by systemd)', () => {
    expect(notifyEnvFrom({}, 10)).toBeNull();
    expect(notifyEnvFrom({ NOTIFY_SOCKET: '', WATCHDOG_USEC: '1000000' }, 10)).toBeNull();
  });

  it('pings at half of WATCHDOG_USEC, in ms', () => {
    expect(notifyEnvFrom({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' }, 10)).toEqual({
      socket: '/run/systemd/notify', watchdogEveryMs: 15_000,
    });
  });

  it('has no watchdog when WATCHDOG_PID names another process, or WATCHDOG_USEC is unusable', () => {
    const base = { NOTIFY_SOCKET: '@n', WATCHDOG_USEC: '2000000' };
    expect(notifyEnvFrom({ ...base, WATCHDOG_PID: '11' }, 10)?.watchdogEveryMs).toBeNull();
    expect(notifyEnvFrom({ ...base, WATCHDOG_PID: '10' }, 10)?.watchdogEveryMs).toBe(1000);
    for (const usec of [undefined, '', '0', '-5', 'abc', '1.5']) {
      expect(notifyEnvFrom({ NOTIFY_SOCKET: '@n', WATCHDOG_USEC: usec }, 10)?.watchdogEveryMs).toBeNull();
    }
  });
});

describe('the notify protocol', () => {
  it('sends READY=1 with the status, then STATUS= only when it changes', () => {
    const sender = fakeSender();
    const t = fakeEvery();
    const n = createSdNotify(sender, { watchdogEveryMs: null, every: t.every });
    n.status('connecting to NATS');
    n.status('connecting to NATS');
    let count = 0;
    n.ready(() => `serving ${count} instances`);
    t.fire(STATUS_EVERY_MS);
    count = 2;
    t.fire(STATUS_EVERY_MS);
    t.fire(STATUS_EVERY_MS);
    expect(sender.sent).toEqual(['STATUS=connecting to NATS', 'READY=1\nSTATUS=serving 0 instances', 'STATUS=serving 2 instances']);
  });

  it('sends STOPPING=1 and stops following the status', () => {
    const sender = fakeSender();
    const t = fakeEvery();
    const n = createSdNotify(sender, { watchdogEveryMs: null, every: t.every });
    n.ready(() => 'serving 1 instances');
    n.stopping('shutting down');
    expect(t.live()).toEqual([]);
    expect(sender.sent.at(-1)).toBe('STOPPING=1\nSTATUS=shutting down');
  });

  it('pings WATCHDOG=1 at the given period from the start, until close', async () => {
    const sender = fakeSender();
    const t = fakeEvery();
    const n = createSdNotify(sender, { watchdogEveryMs: 15_000, every: t.every });
    expect(t.live()).toEqual([15_000]);
    t.fire(15_000);
    t.fire(15_000);
    expect(sender.sent).toEqual(['WATCHDOG=1', 'WATCHDOG=1']);
    await n.close();
    expect(t.live()).toEqual([]);
    expect(sender.closed).toBe(true);
  });

  it('keeps a status to one line: a newline would start another assignment', () => {
    expect(statusLine('a\nREADY=1\r\nb')).toBe('STATUS=a READY=1 b');
  });
});

describe('openSdNotify', () => {
  it('is a no-op without NOTIFY_SOCKET, and takes the variables out of the environment', () => {
    const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: '1000', WATCHDOG_PID: '1', PATH: '/bin' };
    expect(openSdNotify({ libexecDir: '/nonexistent', logger: silentLogger(), env, pid: 1 })).toBe(noopSdNotify);
    expect(env).toEqual({ PATH: '/bin' });
  });

  it('takes NOTIFY_SOCKET out too, so processes the agent starts cannot speak for the unit', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/bin' };
    // No helper under /nonexistent: a no-op (logged), never a throw.
    expect(openSdNotify({ libexecDir: '/nonexistent', logger: silentLogger(), env, pid: 1 })).toBe(noopSdNotify);
    expect(env).toEqual({ PATH: '/bin' });
  });
});

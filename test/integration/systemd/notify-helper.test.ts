import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { notifyHelperPath, spawnNotifyHelper } from '../../../src/platform/notify-helper.js';
import { eventually } from '../../support/eventually.js';
import { startNotifyReceiver, type NotifyReceiver } from './notify-receiver.js';

/** The checkout's libexec, where scripts/setup.sh builds libexec/notify/dea-notify. */
const LIBEXEC = fileURLToPath(new URL('../../../libexec', import.meta.url));

function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

describe('the notify helper (libexec/notify/dea-notify) against a datagram socket', () => {
  let receiver: NotifyReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('is built by scripts/setup.sh', async () => {
    const { accessSync, constants } = await import('node:fs');
    expect(() => accessSync(notifyHelperPath(LIBEXEC), constants.X_OK)).not.toThrow();
  });

  it('sends each message as one datagram, in order, from a child of the sender', async () => {
    receiver = await startNotifyReceiver();
    const sender = spawnNotifyHelper({ libexecDir: LIBEXEC, socket: receiver.socket, logger: capture().logger });
    expect(sender).not.toBeNull();
    const messages = ['STATUS=connecting to NATS', 'READY=1\nSTATUS=serving 0 instances', 'WATCHDOG=1', 'STOPPING=1\nSTATUS=bye'];
    for (const m of messages) sender!.send(m);
    await sender!.close(); // the helper sends what is queued before it exits
    const got = await eventually(() => (receiver!.received().length === messages.length ? receiver!.received() : false), 15_000, 'all datagrams');
    expect(got.map((r) => r.text)).toEqual(messages);
    for (const r of got) {
      expect(r.pid).not.toBe(process.pid);
      expect(r.pid).toBeGreaterThan(0);
    }
  });

  it('sends to an abstract socket (@name)', async () => {
    receiver = await startNotifyReceiver({ abstract: true });
    expect(receiver.socket.startsWith('@')).toBe(true);
    const sender = spawnNotifyHelper({ libexecDir: LIBEXEC, socket: receiver.socket, logger: capture().logger });
    sender!.send('READY=1');
    await receiver.waitFor((r) => r.text === 'READY=1', 'READY=1 on the abstract socket');
    await sender!.close();
  });

  it('logs systemd.notify.failed with the reason when nobody listens, and goes on', async () => {
    receiver = await startNotifyReceiver();
    const socket = receiver.socket;
    await receiver.close(); // socket file gone
    receiver = undefined;
    const c = capture();
    const sender = spawnNotifyHelper({ libexecDir: LIBEXEC, socket, logger: c.logger });
    sender!.send('READY=1');
    sender!.send('WATCHDOG=1');
    await sender!.close();
    const failed = await eventually(() => {
      const f = c.lines.filter((l) => l.event === 'systemd.notify.failed');
      return f.length === 2 ? f : false;
    }, 15_000, 'two systemd.notify.failed lines');
    expect(String(failed[0]!.reason)).toMatch(/^send: (No such file or directory|Connection refused)$/);
    expect(c.lines.some((l) => l.event === 'systemd.notify.helper.exited')).toBe(false);
  });

  it('is not started, and says why, when the helper is not built', async () => {
    const c = capture();
    expect(spawnNotifyHelper({ libexecDir: '/nonexistent', socket: '/run/x', logger: c.logger })).toBeNull();
    const line = await eventually(() => c.lines.find((l) => l.event === 'systemd.notify.unavailable') ?? false, 5_000, 'the unavailable line');
    expect(line.helper).toBe('/nonexistent/notify/dea-notify');
  });
});

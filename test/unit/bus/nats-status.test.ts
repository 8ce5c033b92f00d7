import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RECONNECTING_LOG_EVERY_MS, STATUS_LOGS, scrubUrl, statusLogger } from '../../../src/bus/nats-status.js';

/** A real pino logger at debug whose lines land in an array. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'debug', formatters: { level: (label) => ({ level: label }) } }, sink);
  return { logger, lines };
}

/** pino writes to a stream asynchronously; wait until `n` lines have arrived. */
async function linesOf(c: ReturnType<typeof capture>, n: number) {
  for (let i = 0; i < 200 && c.lines.length < n; i++) await new Promise((r) => setImmediate(r));
  return c.lines;
}

describe('NATS status events', () => {
  it('logs connection changes at info or above and housekeeping at debug', async () => {
    const c = capture();
    const log = statusLogger(c.logger);
    const types = ['disconnect', 'reconnecting', 'reconnect', 'staleConnection', 'ldm', 'error', 'pingTimer', 'update', 'client initiated reconnect'];
    for (const type of types) log({ type, data: '127.0.0.1:4222' });
    const lines = await linesOf(c, types.length);
    const level = (event: string) => lines.find((l) => l['event'] === event)?.['level'];
    for (const event of ['bus.disconnect', 'bus.reconnecting', 'bus.reconnect', 'bus.stale_connection', 'bus.lame_duck']) expect(level(event)).toBe('info');
    expect(level('bus.error')).toBe('warn');
    for (const event of ['bus.ping_timer', 'bus.update', 'bus.client_reconnect']) expect(level(event)).toBe('debug');
    // Every event name is dotted and stable, whatever nats.js calls the status.
    for (const spec of Object.values(STATUS_LOGS)) expect(spec.event).toMatch(/^bus\.[a-z_]+$/);
  });

  it('an unknown status type is logged at debug', async () => {
    const c = capture();
    statusLogger(c.logger)({ type: 'somethingNew', data: 1 });
    expect((await linesOf(c, 1))[0]).toMatchObject({ event: 'bus.status', level: 'debug', type: 'somethingNew' });
  });

  it('logs one reconnect attempt per server per interval at info, the rest at debug, until reconnected', async () => {
    const c = capture();
    let now = 1_000_000;
    const log = statusLogger(c.logger, () => now);
    const attempt = (server: string, afterMs: number) => {
      now += afterMs;
      log({ type: 'reconnecting', data: server });
    };
    attempt('a:4222', 0); // info
    attempt('b:4222', 10); // info: another server
    attempt('a:4222', 500); // debug
    attempt('a:4222', RECONNECTING_LOG_EVERY_MS); // info again
    log({ type: 'reconnect', data: 'b:4222' });
    attempt('a:4222', 10); // info: a new outage starts afresh
    const levels = (await linesOf(c, 6)).filter((l) => l['event'] === 'bus.reconnecting').map((l) => l['level']);
    expect(levels).toEqual(['info', 'info', 'debug', 'info', 'info']);
  });

  it('never logs credentials', async () => {
    const c = capture();
    statusLogger(c.logger)({ type: 'reconnecting', data: 'nats://admin:s3cret@10.0.0.1:4222' });
    const [line] = await linesOf(c, 1);
    expect(JSON.stringify(line)).not.toContain('s3cret');
    expect(scrubUrl('tls://u:p@h:1')).toBe('tls://***@h:1');
  });
});

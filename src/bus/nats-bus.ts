import { connect, type ConnectionOptions, type NatsConnection } from 'nats';
import type { Logger } from '../platform/logger.js';
import { whenAborted } from '../platform/signals.js';
import { pauseUnlessAborted } from '../platform/clock.js';
import { scrubUrl, statusLogger } from './nats-status.js';
import { encodeJson, type Bus, type BusHandler, type Subscription } from './types.js';

export { scrubUrl } from './nats-status.js';

export interface NatsBusOptions {
  readonly servers: readonly string[];
  readonly logger: Logger;
  /** The connection name the server shows. */
  readonly name: string;
  /** Aborting it gives up connecting (a TERM or INT before the agent is up). */
  readonly stopping: AbortSignal;
}

/** Probe rounds while the first connect waits: after this, then doubling up to the cap. */
const PROBE_FIRST_MS = 1_000;
const PROBE_MAX_MS = 5_000;
const PROBE_TIMEOUT_MS = 5_000;
const RECONNECT_WAIT_MS = 500;
const RECONNECT_JITTER_MS = 100;

/**
 * The NATS adapter. Reconnects forever across every configured server and never drops
 * one from its pool (dea_ng#169): unlimited attempts per server, randomised order.
 *
 * Resolves with null when `stopping` aborts before the first connection is made.
 */
export async function connectNatsBus(opts: NatsBusOptions): Promise<Bus | null> {
  const { logger, stopping } = opts;
  const shown = opts.servers.map(scrubUrl);
  logger.info({ event: 'bus.connecting', servers: shown }, `connecting to NATS: ${shown.join(', ')}`);
  let connecting = true;
  // waitOnFirstConnect keeps every server in the pool while none answers (without it the
  // client drops each failed server for good); the client asks this before every attempt,
  // and throwing is the only way to make it give up.
  const delay = () => {
    if (connecting && stopping.aborted) throw new Error('stopped before connecting');
    return RECONNECT_WAIT_MS + Math.floor(Math.random() * (RECONNECT_JITTER_MS + 1));
  };
  const first = connect({
    ...common(opts.name),
    servers: [...opts.servers],
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectDelayHandler: delay,
  });
  const prober = probeWhilePending(opts, first);
  // Do not wait for a dial in flight (up to its 20 s timeout) to notice the stop.
  const nc = await Promise.race([first, whenAborted(stopping).then(() => null)]).catch((err: unknown) => {
    if (stopping.aborted) return null;
    // Only a server that refuses our credentials twice ends the wait: a config problem.
    logger.error({ event: 'bus.connect.failed', error: describe(err) }, `cannot connect to NATS: ${describe(err)}`);
    throw new Error(`cannot connect to NATS: ${describe(err)}`, { cause: err });
  });
  await prober;
  if (!nc || stopping.aborted) {
    // Also a connection made just as the stop came, or later.
    void first.then((late) => late.close(), () => undefined);
    return null;
  }
  connecting = false;
  logger.info({ event: 'bus.connected', server: nc.getServer() }, `connected to NATS at ${nc.getServer()}`);
  const bus = new NatsBus(nc, logger);
  void watchStatus(nc, logger, bus);
  return bus;
}

function common(name: string): ConnectionOptions {
  return { name, pingInterval: 30_000, noAsyncTraces: true };
}

/**
 * The client says nothing while its first connect waits, so a separate one-shot probe of
 * each server tells the operator why, at most once per server per PROBE_MAX_MS. A probe
 * that gets through is closed at once: the real connection follows within half a second.
 */
async function probeWhilePending(opts: NatsBusOptions, pending: Promise<unknown>): Promise<void> {
  let done = false;
  const settled = pending.then(
    () => (done = true),
    () => (done = true),
  );
  let attempt = 0;
  for (let wait = PROBE_FIRST_MS; ; wait = Math.min(wait * 2, PROBE_MAX_MS)) {
    await Promise.race([settled, pauseUnlessAborted(wait, opts.stopping)]);
    if (done || opts.stopping.aborted) return;
    attempt++;
    await Promise.all(opts.servers.map((server) => probe(server, opts, attempt, wait)));
  }
}

async function probe(server: string, opts: NatsBusOptions, attempt: number, nextMs: number): Promise<void> {
  try {
    const nc = await connect({ ...common(`${opts.name}-probe`), servers: [server], reconnect: false, timeout: PROBE_TIMEOUT_MS });
    await nc.close();
  } catch (err) {
    if (opts.stopping.aborted) return;
    const shown = scrubUrl(server);
    const retry = Math.min(nextMs * 2, PROBE_MAX_MS);
    opts.logger.warn(
      { event: 'bus.connect.failed', server: shown, error: describe(err), attempt },
      `cannot connect to NATS at ${shown}: ${describe(err)} (still trying; next report in ${retry / 1000} s)`,
    );
  }
}

/** `CONNECTION_REFUSED`, `TIMEOUT`, `AUTHORIZATION_VIOLATION`, … or the message. */
function describe(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') return scrubUrl(code);
  return scrubUrl(err instanceof Error ? err.message : String(err));
}


async function watchStatus(nc: NatsConnection, logger: Logger, bus: NatsBus): Promise<void> {
  const log = statusLogger(logger);
  for await (const s of nc.status()) {
    log(s);
    bus.connectionChanged(s.type);
  }
}

/** What the bus holds for the server during an outage, at most (as Go's client, 8 MiB). */
const HELD_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Whole-state reports (protocol §4.2, §4.3, §4.5): each says everything the ones before it
 * said, so an outage holds only the latest. Without this a long outage filled the hold
 * with stale reports, and a `droplet.exited` after them was dropped.
 */
const LATEST_ONLY: ReadonlySet<string> = new Set(['dea.heartbeat', 'dea.advertise', 'staging.advertise']);

interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
}

class NatsBus implements Bus {
  /**
   * nats.js drops whatever is published while it is disconnected (each reconnect attempt
   * starts with an empty outbound buffer), so a crash during an outage would never be
   * reported. Those messages are held here and sent, in order, once reconnected.
   */
  private held: Outgoing[] = [];
  private heldBytes = 0;
  private dropped = 0;
  private disconnected = false;
  /**
   * Handed to nats.js but not yet known to have reached the server: a message written
   * just before the connection died (or in the moment before the client noticed) is lost
   * with the client's buffer, so it is kept until a PING sent after it is answered, and
   * held again for the next server if the connection drops first. At least once: one the
   * old server did get, but whose PONG was lost, goes out twice.
   */
  private unconfirmed: Array<Outgoing & { seq: number }> = [];
  private seq = 0;
  private confirming = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
  ) {}

  publish(subject: string, body: unknown): void {
    if (this.nc.isClosed()) return;
    const m = { subject, data: encodeJson(body) };
    if (this.disconnected) this.hold(m);
    else this.send(m);
  }

  /** Fed the connection's status events, in order. */
  connectionChanged(type: string): void {
    if (type === 'disconnect') {
      this.disconnected = true;
      // Nothing is held yet (a reconnect empties the hold), so these go first, in order.
      for (const m of this.unconfirmed.splice(0)) this.hold(m);
    }
    if (type !== 'reconnect') return;
    this.disconnected = false;
    const held = this.held.splice(0);
    const dropped = this.dropped;
    this.heldBytes = 0;
    this.dropped = 0;
    for (const m of held) this.send(m);
    if (held.length > 0 || dropped > 0) {
      this.logger[dropped > 0 ? 'warn' : 'info'](
        { event: 'bus.outage.sent', sent: held.length, dropped },
        `sent ${held.length} message(s) held during the NATS outage${dropped > 0 ? `; ${dropped} dropped over ${HELD_MAX_BYTES} bytes` : ''}`,
      );
    }
  }

  private send(m: Outgoing): void {
    this.nc.publish(m.subject, m.data);
    this.unconfirmed.push({ ...m, seq: ++this.seq });
    this.confirmSoon();
  }

  /**
   * One PING for everything published in the same turn (a burst of registrations, say),
   * sent right behind them: a microtask, not the next loop turn, so the PING leaves in
   * the same write as the messages. Later, the window in which a server that got a
   * message dies before its PONG reaches us grows with whatever the loop does in between,
   * and each message caught in it goes out twice (the soak saw crashes reported twice).
   */
  private confirmSoon(): void {
    if (this.confirming) return;
    this.confirming = true;
    queueMicrotask(() => {
      this.confirming = false;
      if (this.nc.isClosed() || this.disconnected) return;
      const upTo = this.seq;
      this.nc.flush().then(
        () => {
          this.unconfirmed = this.unconfirmed.filter((m) => m.seq > upTo);
        },
        // The connection dropped first: the disconnect holds them for the next server.
        () => undefined,
      );
    });
  }

  private hold(m: Outgoing): void {
    // A later whole-state report, or the same message again (a route re-registered every
    // interval), replaces the held one and takes its place at the end.
    const superseded = (h: Outgoing) =>
      h.subject === m.subject && (LATEST_ONLY.has(m.subject) || sameBytes(h.data, m.data));
    const i = this.held.findIndex(superseded);
    if (i >= 0) {
      this.heldBytes -= this.held[i]!.data.length;
      this.held.splice(i, 1);
    }
    if (this.heldBytes + m.data.length > HELD_MAX_BYTES) {
      this.dropped++;
      return;
    }
    this.held.push({ subject: m.subject, data: m.data });
    this.heldBytes += m.data.length;
  }

  subscribe(subject: string, handler: BusHandler): Subscription {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        void handler({ subject: msg.subject, data: msg.data, reply: msg.reply || undefined });
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }

  async flush(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

import { connect, createInbox, StringCodec, type NatsConnection, type Subscription } from 'nats';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are free-form JSON in tests */

/** One message as a recorder saw it. */
export interface RecordedMessage<T = any> {
  subject: string;
  /** Parsed JSON, or the raw string when the payload is not JSON. */
  data: T;
  /** The payload as text. */
  raw: string;
  reply: string | undefined;
  /** Date.now() when the message arrived. */
  receivedAt: number;
}

export type MessagePredicate<T = any> = (msg: RecordedMessage<T>) => boolean;

export interface Recorder<T = any> {
  readonly subject: string;
  /** Resolves once the subscription is known to the server (a flush round trip). */
  ready(): Promise<void>;
  /**
   * Resolves with the first message (already received ones count) matching `predicate`
   * (any message when omitted); rejects after `timeoutMs` (default 15000: generous, as a
   * busy machine needs, and a wait that succeeds ends as soon as the message is here).
   */
  waitFor(predicate?: MessagePredicate<T>, timeoutMs?: number): Promise<RecordedMessage<T>>;
  /** Resolves with the first `n` matching messages once that many have arrived. */
  waitForCount(n: number, predicate?: MessagePredicate<T>, timeoutMs?: number): Promise<RecordedMessage<T>[]>;
  /** Waits `windowMs` and rejects if any matching message arrived before or during it. */
  expectNone(predicate?: MessagePredicate<T>, windowMs?: number): Promise<void>;
  /** Every message received so far (a copy), oldest first. */
  all(): RecordedMessage<T>[];
  /** Messages so far that match `predicate`. */
  filter(predicate: MessagePredicate<T>): RecordedMessage<T>[];
  /** Forgets what was received so far (pending waitFor calls keep waiting). */
  clear(): void;
  /** Unsubscribes; pending waits are rejected. */
  stop(): void;
}

export interface RequestOptions {
  /**
   * How long to collect replies: default 1000 ms, or 15 s with `expect` (which ends the
   * wait as soon as the replies are in, so a busy machine gets time and a quiet one pays
   * nothing).
   */
  timeoutMs?: number;
  /** Resolve early once this many replies arrived (default: collect until timeout). */
  expect?: number;
}

export interface TestBusClient {
  readonly nc: NatsConnection;
  /** Publishes an object as JSON, or a string as is. */
  publish(subject: string, payload?: unknown, opts?: { reply?: string }): void;
  /**
   * Publishes `payload` with a fresh inbox as reply subject and collects the replies
   * (parsed JSON) until `expect` arrived or `timeoutMs` passed. Never rejects on timeout:
   * an empty array means nobody answered.
   */
  request<T = any>(subject: string, payload?: unknown, opts?: RequestOptions): Promise<T[]>;
  /** Starts recording every message on `subjectPattern` (wildcards allowed). */
  record<T = any>(subjectPattern: string): Recorder<T>;
  /**
   * Answers requests on `subject`: the handler's return value (object → JSON, string as
   * is) is sent to the message's reply subject; undefined sends nothing. Returns a stopper.
   */
  respond<T = any>(subject: string, handler: (data: T, msg: RecordedMessage<T>) => unknown): () => void;
  /** Round trip to the server: everything published before has reached it. */
  flush(): Promise<void>;
  /** Stops all recorders and closes the connection. Idempotent. */
  close(): Promise<void>;
}

export interface TestClientOptions {
  user?: string;
  pass?: string;
  /** Connection name shown by the server (default `test-client`). */
  name?: string;
}

const sc = StringCodec();

/** How long a recorder waits for a message unless told otherwise. */
const DEFAULT_WAIT_MS = 15_000;

function encode(payload: unknown): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  if (typeof payload === 'string') return sc.encode(payload);
  if (payload instanceof Uint8Array) return payload;
  return sc.encode(JSON.stringify(payload));
}

function decode(bytes: Uint8Array): { raw: string; data: any } {
  const raw = sc.decode(bytes);
  try {
    return { raw, data: JSON.parse(raw) as unknown };
  } catch {
    return { raw, data: raw };
  }
}

function safeUnsubscribe(sub: Subscription): void {
  try {
    sub.unsubscribe();
  } catch {
    // connection already closed
  }
}

function describe(msgs: RecordedMessage[]): string {
  if (msgs.length === 0) return 'nothing was received';
  const tail = msgs.slice(-5).map((m) => `  ${m.subject} ${m.raw.length > 300 ? `${m.raw.slice(0, 300)}…` : m.raw}`);
  return `${msgs.length} message(s) received, the last ones:\n${tail.join('\n')}`;
}

/**
 * Connects a helper client for tests. `url` may carry credentials
 * (`nats://user:pass@host:port`); options override them. The client reconnects forever
 * every 100 ms, so it survives `NatsServerHandle.restart()`.
 */
export async function connectTestClient(url: string, opts: TestClientOptions = {}): Promise<TestBusClient> {
  const parsed = new URL(url);
  const user = opts.user ?? (parsed.username !== '' ? decodeURIComponent(parsed.username) : undefined);
  const pass = opts.pass ?? (parsed.password !== '' ? decodeURIComponent(parsed.password) : undefined);
  const server = `${parsed.protocol}//${parsed.host}`;
  const nc = await connect({
    servers: server,
    ...(user !== undefined ? { user } : {}),
    ...(pass !== undefined ? { pass } : {}),
    name: opts.name ?? 'test-client',
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    timeout: 5_000,
  });

  const stoppers = new Set<() => void>();
  let closed: Promise<void> | undefined;

  const toRecorded = (m: { subject: string; data: Uint8Array; reply?: string }): RecordedMessage => {
    const { raw, data } = decode(m.data);
    return { subject: m.subject, data, raw, reply: m.reply !== undefined && m.reply !== '' ? m.reply : undefined, receivedAt: Date.now() };
  };

  const client: TestBusClient = {
    nc,

    publish(subject, payload, popts) {
      nc.publish(subject, encode(payload), popts?.reply !== undefined ? { reply: popts.reply } : undefined);
    },

    request<T = any>(subject: string, payload?: unknown, ropts: RequestOptions = {}): Promise<T[]> {
      const expect = ropts.expect;
      const timeoutMs = ropts.timeoutMs ?? (expect !== undefined ? 15_000 : 1_000);
      const inbox = createInbox();
      const replies: T[] = [];
      return new Promise<T[]>((resolve) => {
        let sub: Subscription | undefined;
        const finish = (): void => {
          clearTimeout(timer);
          if (sub) safeUnsubscribe(sub);
          resolve(replies);
        };
        const timer = setTimeout(finish, timeoutMs);
        sub = nc.subscribe(inbox, {
          callback: (err, msg) => {
            if (err) return;
            // A status message (e.g. 503 "no responders") is not a reply.
            if (msg.headers !== undefined && msg.data.length === 0 && msg.headers.code >= 300) {
              if (msg.headers.code === 503 && replies.length === 0) finish();
              return;
            }
            replies.push(decode(msg.data).data as T);
            if (expect !== undefined && replies.length >= expect) finish();
          },
        });
        nc.publish(subject, encode(payload), { reply: inbox });
      });
    },

    record<T = any>(subjectPattern: string): Recorder<T> {
      const received: RecordedMessage<T>[] = [];
      const waiters = new Set<{ check: () => boolean; fail: (e: Error) => void }>();
      let stopped = false;

      const sub = nc.subscribe(subjectPattern, {
        callback: (err, msg) => {
          if (err) return;
          received.push(toRecorded(msg) as RecordedMessage<T>);
          for (const w of [...waiters]) if (w.check()) waiters.delete(w);
        },
      });

      const wait = <R>(
        compute: () => R | undefined,
        timeoutMs: number,
        what: string,
      ): Promise<R> =>
        new Promise<R>((resolve, reject) => {
          const first = compute();
          if (first !== undefined) {
            resolve(first);
            return;
          }
          if (stopped) {
            reject(new Error(`recorder for ${subjectPattern} is stopped`));
            return;
          }
          const waiter = {
            check: (): boolean => {
              const r = compute();
              if (r === undefined) return false;
              clearTimeout(timer);
              resolve(r);
              return true;
            },
            fail: (e: Error): void => {
              clearTimeout(timer);
              reject(e);
            },
          };
          const timer = setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`timed out after ${timeoutMs} ms waiting on ${subjectPattern} for ${what}; ${describe(received)}`));
          }, timeoutMs);
          waiters.add(waiter);
        });

      const stop = (): void => {
        if (stopped) return;
        stopped = true;
        stoppers.delete(stop);
        safeUnsubscribe(sub);
        for (const w of waiters) w.fail(new Error(`recorder for ${subjectPattern} stopped while waiting`));
        waiters.clear();
      };
      stoppers.add(stop);

      const matchAll: MessagePredicate<T> = () => true;
      return {
        subject: subjectPattern,
        ready: () => nc.flush(),
        waitFor: (predicate = matchAll, timeoutMs = DEFAULT_WAIT_MS) =>
          wait(() => received.find(predicate), timeoutMs, 'a matching message'),
        waitForCount: (n, predicate = matchAll, timeoutMs = DEFAULT_WAIT_MS) =>
          wait(
            () => {
              const hits = received.filter(predicate);
              return hits.length >= n ? hits.slice(0, n) : undefined;
            },
            timeoutMs,
            `${n} matching message(s)`,
          ),
        expectNone: async (predicate = matchAll, windowMs = 1_000) => {
          await new Promise((r) => setTimeout(r, windowMs));
          const hits = received.filter(predicate);
          if (hits.length > 0) throw new Error(`expected no matching message on ${subjectPattern}, got ${hits.length}; ${describe(hits)}`);
        },
        all: () => [...received],
        filter: (predicate) => received.filter(predicate),
        clear: () => {
          received.length = 0;
        },
        stop,
      };
    },

    respond<T = any>(subject: string, handler: (data: T, msg: RecordedMessage<T>) => unknown): () => void {
      const sub = nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return;
          const rec = toRecorded(msg) as RecordedMessage<T>;
          const answer = handler(rec.data, rec);
          if (answer !== undefined && rec.reply !== undefined) nc.publish(rec.reply, encode(answer));
        },
      });
      const stop = (): void => {
        stoppers.delete(stop);
        safeUnsubscribe(sub);
      };
      stoppers.add(stop);
      return stop;
    },

    flush: () => nc.flush(),

    close(): Promise<void> {
      closed ??= (async () => {
        for (const s of [...stoppers]) s();
        if (!nc.isClosed()) await nc.close();
      })();
      return closed;
    },
  };
  return client;
}

/**
 * One NATS connection for one deactl command, and the request patterns it needs: a
 * request with 0..n replies collected until the expected number or a quiet spell, and
 * live subscriptions. Connecting fails fast with a message that says what to do.
 */
import { connect, createInbox, type NatsConnection, type Subscription } from 'nats';
import { Hints, fail } from './errors.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- bus payloads are JSON, checked where read */

export const DEFAULT_NATS = 'nats://127.0.0.1:4222';

export interface Message<T = any> {
  readonly subject: string;
  readonly data: T;
  readonly raw: string;
  readonly reply: string | undefined;
}

export interface CollectOptions {
  /** Give up after this long (default 2 s, CC's wait for find.droplet replies). */
  readonly maxMs?: number;
  /** Stop as soon as this many replies are in. */
  readonly expect?: number;
  /** Without `expect`: stop once nothing new came for this long after the first reply. */
  readonly quietMs?: number;
}

/** `nats://user:pass@host:port` → server and credentials (nats.js takes them apart). */
function splitUrl(url: string): { server: string; user?: string; pass?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw fail(`--nats ${JSON.stringify(url)} is not a URL: pass nats://HOST:PORT`);
  }
  const out: { server: string; user?: string; pass?: string } = { server: `${u.protocol}//${u.host}` };
  if (u.username !== '') out.user = decodeURIComponent(u.username);
  if (u.password !== '') out.pass = decodeURIComponent(u.password);
  return out;
}

/** The URL without its password, for messages. */
export function shownUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

function decode(bytes: Uint8Array): { raw: string; data: unknown } {
  const raw = Buffer.from(bytes).toString('utf8');
  try {
    return { raw, data: JSON.parse(raw) as unknown };
  } catch {
    return { raw, data: raw };
  }
}

export class Session {
  private constructor(
    readonly nc: NatsConnection,
    readonly url: string,
  ) {}

  static async open(url: string): Promise<Session> {
    const { server, ...auth } = splitUrl(url);
    try {
      const nc = await connect({ servers: server, ...auth, name: 'deactl', timeout: 3_000, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
      return new Session(nc, url);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw fail(Hints.natsDown(shownUrl(url), typeof code === 'string' ? code : String((err as Error).message ?? err)));
    }
  }

  publish(subject: string, body: unknown): void {
    this.nc.publish(subject, JSON.stringify(body));
  }

  /** Calls `onMessage` for every message on `subject` (wildcards allowed) until unsubscribed. */
  listen<T = any>(subject: string, onMessage: (m: Message<T>) => void): Subscription {
    return this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        const { raw, data } = decode(msg.data);
        onMessage({ subject: msg.subject, data: data as T, raw, reply: msg.reply || undefined });
      },
    });
  }

  /** Publishes a request and gathers its replies (never throws for silence: [] is nobody). */
  async collect<T = any>(subject: string, body: unknown, opts: CollectOptions = {}): Promise<T[]> {
    const maxMs = opts.maxMs ?? 2_000;
    const quietMs = opts.quietMs ?? 400;
    const replies: T[] = [];
    const inbox = createInbox();
    return new Promise<T[]>((resolve) => {
      let quiet: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(overall);
        clearTimeout(quiet);
        sub.unsubscribe();
        resolve(replies);
      };
      const overall = setTimeout(done, maxMs);
      const sub = this.listen<T>(inbox, (m) => {
        replies.push(m.data);
        if (opts.expect !== undefined) {
          if (replies.length >= opts.expect) done();
          return;
        }
        clearTimeout(quiet);
        quiet = setTimeout(done, quietMs);
      });
      if (opts.expect === 0) return done();
      // The subscription must reach the server before the request does.
      void this.nc.flush().then(() => this.nc.publish(subject, JSON.stringify(body), { reply: inbox }), done);
    });
  }

  async flush(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }
}

import { encodeJson, type Bus, type BusHandler, type BusMessage, type Subscription } from './types.js';

interface Sub {
  readonly pattern: string;
  readonly handler: BusHandler;
}

/** NATS subject matching: `*` is one token, `>` the rest. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** An in-memory bus for fast unit tests of the core; records every publish. */
export class MemoryBus implements Bus {
  readonly published: { subject: string; body: unknown }[] = [];
  private readonly subs = new Set<Sub>();

  publish(subject: string, body: unknown): void {
    this.published.push({ subject, body });
    this.deliver(subject, encodeJson(body), undefined);
  }

  /** Injects an inbound message as a peer would send it. */
  inject(subject: string, data: string | Uint8Array, reply?: string): void {
    this.deliver(subject, typeof data === 'string' ? new TextEncoder().encode(data) : data, reply);
  }

  subscribe(pattern: string, handler: BusHandler): Subscription {
    const sub = { pattern, handler };
    this.subs.add(sub);
    return { unsubscribe: () => this.subs.delete(sub) };
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.subs.clear();
  }

  bodiesOn(subject: string): unknown[] {
    return this.published.filter((p) => p.subject === subject).map((p) => p.body);
  }

  private deliver(subject: string, data: Uint8Array, reply: string | undefined): void {
    const msg: BusMessage = { subject, data, reply };
    for (const sub of this.subs) {
      if (subjectMatches(sub.pattern, subject)) void sub.handler(msg);
    }
  }
}

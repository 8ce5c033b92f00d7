import { connect, type NatsConnection } from 'nats';
import type { Logger } from '../platform/logger.js';
import { encodeJson, type Bus, type BusHandler, type Subscription } from './types.js';

/** Credentials never reach a log line. */
export function scrubUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * The NATS adapter. Reconnects forever across every configured server and never drops
 * one from its pool (dea_ng#169): unlimited attempts per server, randomised order.
 */
export async function connectNatsBus(servers: readonly string[], logger: Logger, name: string): Promise<Bus> {
  const nc = await connect({
    servers: [...servers],
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    pingInterval: 30_000,
    noAsyncTraces: true,
  });
  void watchStatus(nc, logger);
  return new NatsBus(nc);
}

async function watchStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  for await (const s of nc.status()) {
    const data = typeof s.data === 'string' ? scrubUrl(s.data) : s.data;
    logger.info({ event: `bus.${s.type}`, data }, `nats ${s.type}`);
  }
}

class NatsBus implements Bus {
  constructor(private readonly nc: NatsConnection) {}

  publish(subject: string, body: unknown): void {
    if (this.nc.isClosed()) return;
    this.nc.publish(subject, encodeJson(body));
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

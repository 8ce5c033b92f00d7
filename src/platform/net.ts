import { createServer, connect } from 'node:net';

/** One TCP connect attempt; true when something accepted it within `timeoutMs`. */
export function tcpProbe(host: string, port: number, timeoutMs = 250): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A port the kernel says is free right now (bind to 0, read it, close). */
export function freePort(host = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Hands out ports for instances. The kernel's ephemeral choice is re-checked against
 * ports already given to instances that may not have bound them yet.
 */
export class PortAllocator {
  private readonly inUse = new Set<number>();

  async allocate(): Promise<number> {
    for (let i = 0; i < 50; i++) {
      const port = await freePort();
      if (!this.inUse.has(port)) {
        this.inUse.add(port);
        return port;
      }
    }
    throw new Error('no free port');
  }

  /** Marks a port an adopted instance already holds. */
  claim(port: number): void {
    this.inUse.add(port);
  }

  release(port: number | null): void {
    if (port !== null) this.inUse.delete(port);
  }
}

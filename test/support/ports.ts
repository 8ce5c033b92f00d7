import net from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host` by binding port 0 and closing again.
 * The port is only probably free afterwards: callers that bind it later must be ready
 * to retry with another one.
 */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('could not determine the bound port'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** One TCP connect attempt; true when something accepted it within `timeoutMs`. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 250): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => undefined);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Polls `canConnect` every `intervalMs` until the port accepts or `timeoutMs` passes.
 * `abort` lets a caller stop early (e.g. the process behind the port exited).
 */
export async function waitForPort(
  port: number,
  opts: { host?: string; timeoutMs?: number; intervalMs?: number; abort?: () => boolean } = {},
): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const interval = opts.intervalMs ?? 50;
  for (;;) {
    if (opts.abort?.()) throw new Error(`gave up waiting for ${host}:${port}: aborted`);
    if (await canConnect(port, host)) return;
    if (Date.now() >= deadline) throw new Error(`nothing accepted connections on ${host}:${port} within ${opts.timeoutMs ?? 10_000} ms`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

import net from 'node:net';

/**
 * A TCP gate between one client (an agent) and a nats-server on loopback. Cutting it
 * gives that client an outage of its own, which ends exactly when the test opens the gate
 * again; every other client of the server keeps (or regains) its connection meanwhile,
 * so it can be ready to see what the gated client sends the moment it is back.
 */
export interface NatsGate {
  /** `nats://127.0.0.1:<gate port>`: give this to the client instead of the server's URL. */
  readonly url: string;
  /** Drops every connection through the gate and refuses new ones until open(). */
  cut(): void;
  /** Lets connections through again. */
  open(): void;
  /** Connections currently passing through. */
  connections(): number;
  /** Cuts and stops listening. Idempotent. */
  close(): Promise<void>;
}

export async function natsGate(serverPort: number): Promise<NatsGate> {
  let isOpen = true;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  const server = net.createServer((client) => {
    if (!isOpen) {
      // Accept and drop at once: to the client, a server that is not there.
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: serverPort });
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  const cut = (): void => {
    isOpen = false;
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  let closing: Promise<void> | undefined;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut,
    open: () => {
      isOpen = true;
    },
    connections: () => pairs.size,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      })),
  };
}

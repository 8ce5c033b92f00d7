/**
 * Serves one droplet over HTTP for the agents to download, as CC's blobstore did. Each
 * agent gets a URL with its own id in it, so the server can tell who is downloading.
 */
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Droplet } from './droplet.js';

export type DownloadEvent = { readonly agentId: string; readonly phase: 'started' | 'done' | 'failed' };

export interface DropletServer {
  urlFor(agentId: string): string;
  close(): Promise<void>;
}

/**
 * Loopback when every agent is on this machine; else this machine's first external IPv4
 * address, which agents elsewhere can reach.
 */
export function serveAddress(agentHosts: readonly string[]): string {
  const local = agentHosts.every((h) => h.startsWith('127.') || h === 'localhost' || h === '::1');
  if (local) return '127.0.0.1';
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export async function serveDroplet(droplet: Droplet, host: string, onEvent: (e: DownloadEvent) => void): Promise<DropletServer> {
  // An unguessable prefix: the droplet is the app's code, served to whoever asks.
  const token = randomBytes(12).toString('hex');
  const server: Server = createServer((req, res) => {
    const m = /^\/([0-9a-f]+)\/([^/]+)\/droplet\.tgz$/.exec(req.url ?? '');
    if (!m || m[1] !== token) return void res.writeHead(404).end();
    const agentId = decodeURIComponent(m[2]!);
    onEvent({ agentId, phase: 'started' });
    res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': droplet.size });
    const body = createReadStream(droplet.path);
    body.on('error', () => res.destroy());
    res.on('close', () => onEvent({ agentId, phase: res.writableFinished ? 'done' : 'failed' }));
    body.pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    urlFor: (agentId) => `http://${host}:${port}/${token}/${encodeURIComponent(agentId)}/droplet.tgz`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

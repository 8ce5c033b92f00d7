import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { StatusConfig } from '../config/types.js';
import { basicAuthOk } from './auth.js';

/** Routes that carry their own authorisation: the directory server's signed URLs (protocol §11.5). */
export interface SignedRoutes {
  handles(pathname: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends responses that would otherwise keep the server open (log tails). */
  close(): void;
}

/** Read-only views the status server renders; it never mutates anything. */
export interface StatusView {
  varz(): unknown;
  metrics?(): Promise<{ contentType: string; body: string }>;
  directory?: SignedRoutes;
}

export interface StatusServer {
  readonly port: number;
  close(): Promise<void>;
}

/** varz/healthz (and /metrics) behind HTTP Basic auth on every path (protocol §10). */
export async function startStatusServer(cfg: StatusConfig, view: StatusView): Promise<StatusServer> {
  const server = createServer((req, res) => {
    void route(cfg, view, req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const port = await listen(server, cfg.host, cfg.port);
  const close = () => {
    view.directory?.close();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { port, close };
}

async function route(cfg: StatusConfig, view: StatusView, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  // The signature in the URL is the credential there; Basic auth guards everything else.
  if (view.directory?.handles(path)) return view.directory.serve(req, res);
  if (!basicAuthOk(req.headers.authorization, cfg.user, cfg.password)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="dea"', 'Content-Type': 'text/plain' });
    res.end('Unauthorized\n');
    return;
  }
  if (req.method === 'GET' && path === '/healthz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok\n');
  } else if (req.method === 'GET' && path === '/varz') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify(view.varz(), null, 2)}\n`);
  } else if (req.method === 'GET' && path === '/metrics' && view.metrics) {
    const m = await view.metrics();
    res.writeHead(200, { 'Content-Type': m.contentType });
    res.end(m.body);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('Not Found\n');
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

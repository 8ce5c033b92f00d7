/**
 * A small app for the network tests, added to the serves-http-v2 droplet as `net.js`
 * (started with `node net.js`). Plain Node: GET / says hello; /ips lists its addresses;
 * /connect?host=&port= tries one TCP connect from inside; /download?bytes=N sends N bytes;
 * POST /upload counts what it receives; /file?path= reads a file (only /etc/hosts and
 * /etc/resolv.conf).
 */
export const NET_APP = String.raw`
'use strict';
const http = require('http');
const net = require('net');
const os = require('os');
const fs = require('fs');
const port = Number(process.env.PORT);
const send = (res, code, body) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/') return send(res, 200, { app: 'net', port });
  if (url.pathname === '/ips') return send(res, 200, os.networkInterfaces());
  if (url.pathname === '/file') {
    const path = url.searchParams.get('path');
    if (path !== '/etc/hosts' && path !== '/etc/resolv.conf') return send(res, 403, {});
    return send(res, 200, { text: fs.readFileSync(path, 'utf8') });
  }
  if (url.pathname === '/connect') {
    const sock = net.connect({ host: url.searchParams.get('host'), port: Number(url.searchParams.get('port')) });
    const done = (body) => { sock.destroy(); send(res, 200, body); };
    sock.setTimeout(3000, () => done({ connected: false, error: 'timeout' }));
    sock.once('connect', () => done({ connected: true }));
    sock.once('error', (err) => done({ connected: false, error: err.code }));
    return;
  }
  if (url.pathname === '/download') {
    let left = Number(url.searchParams.get('bytes'));
    const chunk = Buffer.alloc(64 * 1024, 120);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const pump = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!res.write(part)) return res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (url.pathname === '/upload') {
    let got = 0;
    req.on('data', (c) => (got += c.length));
    req.on('end', () => send(res, 200, { bytes: got }));
    return;
  }
  send(res, 404, {});
}).listen(port, '0.0.0.0');
process.on('SIGTERM', () => process.exit(0));
`;

/** The start message of NET_APP as `app`, from the droplet at `url` (`over` replaces fields). */
export function netAppStart(app: string, droplet: { sha1: string; url: string }, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    droplet: app, name: app, uris: [`${app}.example.test`], index: 0, version: 'v1', cc_partition: 'default',
    sha1: droplet.sha1, executableUri: droplet.url, limits: { mem: 64, disk: 256, fds: 1024 },
    services: [], env: [], start_command: 'node net.js', ...over,
  };
}

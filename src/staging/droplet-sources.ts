/** Where a droplet's bytes come from: a regular file, or an HTTP(S) GET with a few redirects. */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { downloadError } from './download-error.js';

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Opens `uri` (file:, http:, https:) for reading; `signal` aborts an HTTP request. */
export function openSource(uri: string, signal: AbortSignal): Promise<Readable> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch (err) {
    throw downloadError(uri, 'invalid URI', err);
  }
  if (url.protocol === 'file:') return openFileSource(url);
  if (url.protocol === 'http:' || url.protocol === 'https:') return openHttpSource(url, signal, uri);
  throw downloadError(uri, `unsupported scheme ${url.protocol}`);
}

/** Opens a regular file only: O_NONBLOCK keeps a FIFO from blocking a pool thread on open. */
async function openFileSource(url: URL): Promise<Readable> {
  const fh = await open(fileURLToPath(url), constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile()) throw new Error('not a regular file');
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh.createReadStream();
}

function httpGet(url: URL, signal: AbortSignal): Promise<http.IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // Credentials in the URL become an Authorization header; a redirect to a URL without
    // them (another origin, say) sends none.
    const req = client.get(url, { signal, headers: { 'user-agent': 'dea-agent' } }, resolve);
    req.on('error', reject);
  });
}

/** GETs `url`, following a few redirects to http(s) only, and returns a 200 response. */
async function openHttpSource(url: URL, signal: AbortSignal, uri: string): Promise<Readable> {
  for (let hops = 0; ; hops++) {
    const res = await httpGet(url, signal);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && location !== undefined && hops < MAX_REDIRECTS) {
      res.resume();
      url = new URL(location, url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw downloadError(uri, `redirect to unsupported scheme ${url.protocol}`);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw downloadError(uri, `HTTP status: ${status}`);
    }
    return res;
  }
}

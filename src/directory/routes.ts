/**
 * The directory server's HTTP side (protocol §11.5), mounted in the status server under
 * `/instance_paths/`: the signature replaces Basic auth there. Checks, in dea_ng's order:
 * signature (401), age (400), instance (404, 503), path (403, 404); then a listing, a
 * file (with Range) or a tail. Every refusal is logged as `directory.request.refused`
 * with why, never with the query (it holds the signature).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../platform/logger.js';
import type { Layout } from '../staging/layout.js';
import { listingJson, listingText, readEntries } from './listing.js';
import { openInside, type Opened } from './open.js';
import { resolveInside } from './resolve.js';
import { instanceRoot, type ServedInstance } from './roots.js';
import { sendFile } from './send-file.js';
import type { UrlSigner } from './signer.js';
import { tailFile, type TailTarget } from './tail.js';
import { instanceIdOf, RESOURCE_PREFIX } from './urls.js';

export interface DirectoryDeps {
  readonly signer: UrlSigner;
  /** Looked up by the id in the URL; the URL never names a directory itself. */
  readonly instances: { get(instanceId: string): ServedInstance | undefined };
  readonly layout: Layout;
  readonly logger: Logger;
  readonly tailPollMs?: number;
}

export interface DirectoryRoutes {
  handles(pathname: string): boolean;
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Ends every tail still streaming (the server is closing). */
  close(): void;
}

interface Refusal {
  readonly status: number;
  readonly error: string;
  readonly why: string;
}

/** The request as received: the signed resource is the raw path, never a normalised one. */
interface Request {
  readonly resource: string;
  readonly query: URLSearchParams;
  instanceId?: string;
}

/** The tails streaming now, and whether the server is closing (which ends them). */
interface Tails {
  readonly live: Set<AbortController>;
  closing: boolean;
}

export function directoryRoutes(deps: DirectoryDeps): DirectoryRoutes {
  const tails: Tails = { live: new Set(), closing: false };
  return {
    handles: (pathname) => pathname.startsWith(RESOURCE_PREFIX),
    serve: (req, res) => serve(deps, tails, req, res),
    close: () => {
      tails.closing = true;
      for (const t of tails.live) t.abort();
    },
  };
}

function parseRequest(req: IncomingMessage): Request {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? { resource: url, query: new URLSearchParams() } : { resource: url.slice(0, q), query: new URLSearchParams(url.slice(q + 1)) };
}

function refuse(deps: DirectoryDeps, r: Request, res: ServerResponse, refusal: Refusal): void {
  deps.logger.info(
    { event: 'directory.request.refused', status: refusal.status, why: refusal.why, instance_id: r.instanceId ?? null },
    `directory request refused: ${refusal.why}`,
  );
  res.writeHead(refusal.status, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify({ error: refusal.error })}\n`);
}

async function serve(deps: DirectoryDeps, tails: Tails, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const r = parseRequest(req);
  const checked = await check(deps, r, req);
  if ('status' in checked) return refuse(deps, r, res, checked);
  const { opened, inst, root } = checked;
  // A HEAD with `tail` is answered as a HEAD of the file: there is no body to follow.
  const kind = opened.stat.isDirectory() ? 'listing' : r.query.has('tail') && req.method === 'GET' ? 'tail' : 'file';
  deps.logger.debug({ event: 'directory.request.served', instance_id: inst.instanceId, kind }, `directory: ${kind}`);
  if (kind === 'listing') return list(r, req, res, opened);
  if (kind === 'file') return sendFile(req, res, opened.handle, opened.path, opened.stat.size);
  const ctl = new AbortController();
  tails.live.add(ctl);
  res.on('close', () => ctl.abort());
  try {
    const end = await tailFile(res, opened, {
      offset: tailOffset(r.query),
      signal: ctl.signal,
      // Same root, same instance: an instance that crashed or stopped ends the stream.
      stillServed: () => {
        const now = deps.instances.get(inst.instanceId);
        return now !== undefined && instanceRoot(deps.layout, now) === root;
      },
      reopen: () => reopen(root, r.query.get('path') ?? '/'),
      ...(deps.tailPollMs !== undefined ? { pollMs: deps.tailPollMs } : {}),
    });
    const why = end === 'not-served' ? 'instance not served' : tails.closing ? 'server closing' : 'client gone';
    deps.logger.debug({ event: 'directory.tail.ended', instance_id: inst.instanceId, why }, `directory: tail ended (${why})`);
  } finally {
    tails.live.delete(ctl);
  }
}

type Checked = { readonly opened: Opened & { kind: 'ok' }; readonly inst: ServedInstance; readonly root: string } | Refusal;

async function check(deps: DirectoryDeps, r: Request, req: IncomingMessage): Promise<Checked> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, error: 'Method not allowed', why: 'method' };
  const verdict = deps.signer.verify(r.resource, r.query);
  if (verdict === 'invalid') return { status: 401, error: 'Invalid HMAC', why: 'invalid hmac' };
  if (verdict === 'expired') return { status: 400, error: 'Url expired', why: 'expired' };
  const id = instanceIdOf(r.resource);
  const inst = id === null ? undefined : deps.instances.get(id);
  if (id === null || inst === undefined) return { status: 404, error: 'Unknown instance', why: 'unknown instance' };
  r.instanceId = id;
  const root = instanceRoot(deps.layout, inst);
  if (root === null) return { status: 503, error: 'Instance unavailable', why: `instance ${inst.state}` };
  const opened = await openRequested(root, r.query.get('path') ?? '/');
  if (opened.kind === 'ok') return { opened, inst, root };
  return refusalOf(opened);
}

type Outcome = Opened | { readonly kind: 'no-root' };

async function openRequested(root: string, path: string): Promise<Outcome> {
  const resolved = await resolveInside(root, path);
  return resolved.kind === 'ok' ? openInside(resolved.root, resolved.target) : resolved;
}

function refusalOf(o: Exclude<Outcome, { kind: 'ok' }>): Refusal {
  switch (o.kind) {
    case 'forbidden':
      return { status: 403, error: 'Not accessible', why: o.why };
    case 'missing':
      return { status: 404, error: 'Entity not found', why: 'no such path' };
    case 'no-root':
      return { status: 503, error: 'Instance unavailable', why: 'no instance directory' };
  }
}

async function reopen(root: string, path: string): Promise<TailTarget | null> {
  const o = await openRequested(root, path).catch(() => null);
  if (o === null || o.kind !== 'ok') return null;
  if (o.stat.isFile()) return o;
  await o.handle.close();
  return null;
}

function tailOffset(query: URLSearchParams): number | null {
  const raw = query.get('tail_offset');
  return raw !== null && /^\d{1,15}$/.test(raw) ? Number(raw) : null;
}

function wantsJson(req: IncomingMessage, query: URLSearchParams): boolean {
  return query.get('format') === 'json' || (req.headers.accept ?? '').includes('application/json');
}

async function list(r: Request, req: IncomingMessage, res: ServerResponse, opened: Opened & { kind: 'ok' }): Promise<void> {
  let entries;
  try {
    entries = await readEntries(opened.handle);
  } finally {
    await opened.handle.close();
  }
  const json = wantsJson(req, r.query);
  const body = json ? `${JSON.stringify(listingJson(r.query.get('path') ?? '/', entries))}\n` : listingText(entries);
  res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

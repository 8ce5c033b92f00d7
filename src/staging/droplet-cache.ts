/**
 * The droplet cache (protocol §5.3): `<dropletsDir>/<sha1>/droplet.tgz`, one download per
 * SHA-1 at a time, verified while streaming, scanned before it is stored, reaped when no
 * instance uses it.
 *
 * A file in the cache was verified and scanned when it was stored: entries only ever
 * appear by an atomic rename of a fully checked temp file, so a crash leaves either the
 * whole droplet or nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { AgentError, ErrorCodes } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import { scanDroplet } from './scan.js';

export interface CachedDroplet {
  sha1: string;
  /** `<dropletsDir>/<sha1>/droplet.tgz` */
  path: string;
}

export interface DropletCacheOptions {
  dropletsDir: string;
  /** Temp files live here; on the same file system as dropletsDir so the rename is atomic. */
  tmpDir: string;
  logger: Logger;
  /** A download that receives no bytes for this long fails [30 s]. */
  inactivityTimeoutMs?: number;
  /** A download larger than this fails [4 GiB]; a file:// URI may name an endless source. */
  maxBytes?: number;
}

export interface DropletCacheStats {
  /** Downloads started (a download shared by concurrent fetches counts once). */
  downloads: number;
  /** Fetches answered from the cache without a download. */
  hits: number;
}

const SHA1_RE = /^[0-9a-f]{40}$/;
const DROPLET_FILE = 'droplet.tgz';
const TEMP_PREFIX = 'droplet-';
const TEMP_SUFFIX = '.tgz.part';
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function isValidSha1(value: unknown): value is string {
  return typeof value === 'string' && SHA1_RE.test(value);
}

/**
 * A URI fit for logs and error messages: credentials become `***` and the query string
 * and fragment are dropped (signed blobstore URLs carry their signature there).
 */
export function scrubUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return '<invalid uri>';
  }
  const auth = url.username || url.password ? '***@' : '';
  return `${url.protocol}//${auth}${url.host}${url.pathname}`;
}

function downloadError(uri: string, why: string, cause?: unknown): AgentError {
  return new AgentError(ErrorCodes.DROPLET_DOWNLOAD_FAILED, `Error downloading: ${scrubUri(uri)}: ${why}`, { cause });
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

/** Aborts `signal` when `touch` has not been called for `ms`. */
class Watchdog {
  readonly #controller = new AbortController();
  readonly #ms: number;
  #timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.#ms = ms;
    this.#timer = this.#arm();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  touch(): void {
    clearTimeout(this.#timer);
    this.#timer = this.#arm();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #arm(): NodeJS.Timeout {
    return setTimeout(() => this.#controller.abort(new Error(`no data for ${this.#ms} ms`)), this.#ms);
  }
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

function openSource(uri: string, signal: AbortSignal): Promise<Readable> {
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

interface Flight {
  promise: Promise<CachedDroplet>;
  controller: AbortController;
  waiters: number;
  settled: boolean;
}

/** Resolves with the flight's result, or rejects early with `signal`'s reason. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class DropletCache {
  readonly #dropletsDir: string;
  readonly #tmpDir: string;
  readonly #log: Logger;
  readonly #inactivityMs: number;
  readonly #maxBytes: number;
  /** SHA-1s whose droplet.tgz is complete on disk. */
  readonly #known = new Set<string>();
  /** Keyed by SHA-1, or by `uri:<uri>` when the caller gave no SHA-1. */
  readonly #inflight = new Map<string, Flight>();
  /** Commits and reaps run one at a time so a reap never renames a dir being filled. */
  #serial: Promise<unknown> = Promise.resolve();
  #init: Promise<void> | undefined;
  #downloads = 0;
  #hits = 0;
  #seq = 0;

  constructor(opts: DropletCacheOptions) {
    this.#dropletsDir = path.resolve(opts.dropletsDir);
    this.#tmpDir = path.resolve(opts.tmpDir);
    this.#log = opts.logger.child({ component: 'droplet-cache' });
    this.#inactivityMs = opts.inactivityTimeoutMs ?? 30_000;
    this.#maxBytes = opts.maxBytes ?? 4 * 1024 ** 3;
  }

  /**
   * Creates the directories and registers the droplets already on disk, so they survive
   * an agent restart. Removes what an interrupted run left: temp files, `.deleted.`
   * directories and SHA-1 directories without a droplet. Idempotent; fetch calls it.
   */
  init(): Promise<void> {
    this.#init ??= this.#seed().catch((err: unknown) => {
      this.#init = undefined; // let a later call try again
      throw err;
    });
    return this.#init;
  }

  stats(): DropletCacheStats {
    return { downloads: this.#downloads, hits: this.#hits };
  }

  /** SHA-1s of the droplets in the cache. */
  list(): string[] {
    return [...this.#known];
  }

  has(sha1: string): boolean {
    return this.#known.has(sha1);
  }

  /**
   * The cached droplet for `sha1`, downloading `uri` if needed. With `sha1` null the
   * computed SHA-1 becomes the key. Concurrent fetches of one SHA-1 share one download;
   * an aborted `signal` rejects this caller only (with the signal's reason), and the
   * download itself stops once every caller waiting for it has gone.
   */
  async fetch(sha1: string | null, uri: string, signal?: AbortSignal): Promise<CachedDroplet> {
    if (sha1 !== null && !isValidSha1(sha1)) throw downloadError(uri, `invalid sha1 ${JSON.stringify(String(sha1).slice(0, 64))}`);
    signal?.throwIfAborted();
    await this.init();
    if (sha1 !== null && this.#known.has(sha1)) {
      const hit = await this.#hit(sha1);
      if (hit) return hit;
    }
    // No await between the lookup and the insert: concurrent callers find the same flight.
    const key = sha1 ?? `uri:${uri}`;
    const flight = this.#inflight.get(key) ?? this.#launch(key, sha1, uri);
    return this.#wait(flight, signal);
  }

  /**
   * Removes every cached droplet whose SHA-1 is not in `inUse` and is not being
   * downloaded; returns the SHA-1s removed. `inUse` must include instances still
   * starting: a droplet fetched but not yet unpacked is otherwise fair game.
   */
  async reap(inUse: ReadonlySet<string>): Promise<string[]> {
    await this.init();
    return this.#exclusive(async () => {
      const removed: string[] = [];
      for (const sha1 of [...this.#known]) {
        if (inUse.has(sha1) || this.#inflight.has(sha1)) continue;
        this.#known.delete(sha1);
        if (await this.#discard(path.join(this.#dropletsDir, sha1))) removed.push(sha1);
      }
      if (removed.length > 0) this.#log.info({ event: 'droplet.reaped', sha1s: removed }, 'reaped unused droplets');
      return removed;
    });
  }

  async #seed(): Promise<void> {
    await mkdir(this.#dropletsDir, { recursive: true, mode: 0o755 });
    await mkdir(this.#tmpDir, { recursive: true, mode: 0o755 });
    for (const name of await readdir(this.#dropletsDir)) {
      const dir = path.join(this.#dropletsDir, name);
      if (name.includes('.deleted.')) await rm(dir, { recursive: true, force: true });
      else if (isValidSha1(name) && (await isFile(path.join(dir, DROPLET_FILE)))) this.#known.add(name);
      else if (isValidSha1(name)) await rm(dir, { recursive: true, force: true });
    }
    for (const name of await readdir(this.#tmpDir)) {
      if (name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX)) await rm(path.join(this.#tmpDir, name), { force: true });
    }
    this.#log.info({ event: 'droplet.cache.seeded', count: this.#known.size }, 'droplet cache ready');
  }

  /** A hit, unless the file vanished behind our back (then it is downloaded again). */
  async #hit(sha1: string): Promise<CachedDroplet | null> {
    const cached = this.#entry(sha1);
    if (!(await isFile(cached.path))) {
      this.#known.delete(sha1);
      this.#log.warn({ event: 'droplet.cache.missing', sha1 }, 'cached droplet disappeared; downloading again');
      return null;
    }
    this.#hits += 1;
    this.#log.debug({ event: 'droplet.cache.hit', sha1 }, 'droplet cache hit');
    return cached;
  }

  #launch(key: string, sha1: string | null, uri: string): Flight {
    const controller = new AbortController();
    const flight: Flight = { promise: this.#download(sha1, uri, controller.signal), controller, waiters: 0, settled: false };
    this.#inflight.set(key, flight);
    flight.promise
      .finally(() => {
        flight.settled = true;
        this.#inflight.delete(key);
      })
      .catch(() => undefined); // each waiter sees the rejection; the flight itself needs no handler
    return flight;
  }

  async #wait(flight: Flight, signal: AbortSignal | undefined): Promise<CachedDroplet> {
    flight.waiters += 1;
    try {
      return signal ? await raceAbort(flight.promise, signal) : await flight.promise;
    } finally {
      flight.waiters -= 1;
      // Nobody wants it any more: stop downloading.
      if (flight.waiters === 0 && !flight.settled) flight.controller.abort(new Error('every fetch of this droplet was aborted'));
    }
  }

  async #download(expected: string | null, uri: string, signal: AbortSignal): Promise<CachedDroplet> {
    this.#downloads += 1;
    const started = Date.now();
    const tmp = path.join(this.#tmpDir, `${TEMP_PREFIX}${process.pid}-${++this.#seq}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
    const log = this.#log.child({ sha1: expected, uri: scrubUri(uri) });
    log.info({ event: 'droplet.download.start' }, 'downloading droplet');
    try {
      const { sha1, bytes } = await this.#streamTo(uri, tmp, signal);
      if (expected !== null && sha1 !== expected) {
        throw new AgentError(ErrorCodes.DROPLET_SHA1_MISMATCH, `Error downloading: ${scrubUri(uri)}: SHA1 mismatch (expected ${expected}, actual ${sha1})`);
      }
      const scan = await scanDroplet(tmp);
      const cached = await this.#commit(sha1, tmp);
      log.info({ event: 'droplet.download.done', sha1, bytes, entries: scan.entries, ms: Date.now() - started }, 'droplet downloaded');
      return cached;
    } catch (err) {
      await rm(tmp, { force: true });
      log.warn({ event: 'droplet.download.failed', code: errorCode(err), err: err instanceof Error ? err.message : String(err) }, 'droplet download failed');
      throw err;
    }
  }

  /** Streams the source into `tmp` while hashing; never holds the droplet in memory. */
  async #streamTo(uri: string, tmp: string, signal: AbortSignal): Promise<{ sha1: string; bytes: number }> {
    const watchdog = new Watchdog(this.#inactivityMs);
    const both = AbortSignal.any([signal, watchdog.signal]);
    const hash = createHash('sha1');
    let bytes = 0;
    const maxBytes = this.#maxBytes;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        watchdog.touch();
        bytes += chunk.length;
        if (bytes > maxBytes) return done(new Error(`droplet larger than ${maxBytes} bytes`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      const source = await openSource(uri, both);
      watchdog.touch();
      await pipeline(source, meter, createWriteStream(tmp, { flags: 'wx', mode: 0o600, flush: true }), { signal: both });
      return { sha1: hash.digest('hex'), bytes };
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (watchdog.signal.aborted) throw downloadError(uri, `timeout: ${(watchdog.signal.reason as Error).message}`);
      if (err instanceof AgentError) throw err;
      throw downloadError(uri, `Response status: unknown, Error: ${err instanceof Error ? err.message : String(err)}`, err);
    } finally {
      watchdog.stop();
    }
  }

  /** Moves a verified, scanned temp file into place (dir 0755, file 0644). */
  #commit(sha1: string, tmp: string): Promise<CachedDroplet> {
    return this.#exclusive(async () => {
      const cached = this.#entry(sha1);
      const dir = path.dirname(cached.path);
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o755);
      await chmod(tmp, 0o644);
      await moveInto(tmp, cached.path);
      this.#known.add(sha1);
      return cached;
    });
  }

  #entry(sha1: string): CachedDroplet {
    // Only ever called with a validated SHA-1: a message field never builds a path.
    if (!isValidSha1(sha1)) throw new Error(`droplet cache: refusing path for sha1 ${JSON.stringify(sha1)}`);
    return { sha1, path: path.join(this.#dropletsDir, sha1, DROPLET_FILE) };
  }

  /** Renames the directory aside first so the SHA-1 path is free at once, then deletes it. */
  async #discard(dir: string): Promise<boolean> {
    const trash = `${dir}.deleted.${Date.now()}-${++this.#seq}`;
    try {
      await rename(dir, trash);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** rename(2), or copy then rename when tmpDir is on another file system. */
async function moveInto(tmp: string, dest: string): Promise<void> {
  try {
    await rename(tmp, dest);
  } catch (err) {
    if (errorCode(err) !== 'EXDEV') throw err;
    const staging = `${dest}.partial`;
    await copyFile(tmp, staging);
    await chmod(staging, 0o644);
    await rename(staging, dest);
    await rm(tmp, { force: true });
  }
}

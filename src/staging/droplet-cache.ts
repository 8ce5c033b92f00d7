/**
 * The droplet cache (protocol §5.3): one download per SHA-1 at a time (single-flight.ts),
 * hashed while streaming (download.ts, sha1.ts), scanned before it is stored, kept and
 * reaped by the store (droplet-store.ts). A cached file was verified and scanned when it
 * was stored.
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../platform/logger.js';
import { downloadTo } from './download.js';
import { downloadError, errorCode, scrubUri } from './download-error.js';
import { DropletStore, type CachedDroplet } from './droplet-store.js';
import { scanDroplet } from './scan.js';
import { isValidSha1, verifySha1 } from './sha1.js';
import { SingleFlight } from './single-flight.js';

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

export class DropletCache {
  readonly #store: DropletStore;
  /** Keyed by SHA-1, or by `uri:<uri>` when the caller gave no SHA-1. */
  readonly #flights = new SingleFlight<CachedDroplet>('every fetch of this droplet was aborted');
  readonly #log: Logger;
  readonly #inactivityMs: number;
  readonly #maxBytes: number;
  #downloads = 0;
  #hits = 0;

  constructor(opts: DropletCacheOptions) {
    this.#log = opts.logger.child({ component: 'droplet-cache' });
    this.#store = new DropletStore(opts.dropletsDir, opts.tmpDir, this.#log);
    this.#inactivityMs = opts.inactivityTimeoutMs ?? 30_000;
    this.#maxBytes = opts.maxBytes ?? 4 * 1024 ** 3;
  }

  /** Makes the directories and registers the droplets already on disk; fetch calls it. */
  init(): Promise<void> {
    return this.#store.init();
  }

  stats(): DropletCacheStats {
    return { downloads: this.#downloads, hits: this.#hits };
  }

  /** SHA-1s of the droplets in the cache. */
  list(): string[] {
    return this.#store.list();
  }

  has(sha1: string): boolean {
    return this.#store.has(sha1);
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
    if (sha1 !== null && this.#store.has(sha1)) {
      const hit = await this.#store.lookup(sha1);
      if (hit) return this.#hit(hit);
    }
    return this.#flights.run(sha1 ?? `uri:${uri}`, (s) => this.#download(sha1, uri, s), signal);
  }

  /**
   * Removes every cached droplet whose SHA-1 is not in `inUse` and is not being
   * downloaded; returns the SHA-1s removed. `inUse` must include instances still
   * starting: a droplet fetched but not yet unpacked is otherwise fair game.
   */
  async reap(inUse: ReadonlySet<string>): Promise<string[]> {
    await this.init();
    return this.#store.reap((sha1) => inUse.has(sha1) || this.#flights.has(sha1));
  }

  #hit(cached: CachedDroplet): CachedDroplet {
    this.#hits += 1;
    this.#log.debug({ event: 'droplet.cache.hit', sha1: cached.sha1 }, 'droplet cache hit');
    return cached;
  }

  /** Download, verify, scan, store; a failure leaves nothing behind. */
  async #download(expected: string | null, uri: string, signal: AbortSignal): Promise<CachedDroplet> {
    this.#downloads += 1;
    const started = Date.now();
    const tmp = this.#store.tempPath();
    const log = this.#log.child({ sha1: expected, uri: scrubUri(uri) });
    log.info({ event: 'droplet.download.start' }, 'downloading droplet');
    try {
      const { sha1, bytes } = await downloadTo(uri, tmp, { signal, inactivityMs: this.#inactivityMs, maxBytes: this.#maxBytes });
      verifySha1(expected, sha1, uri);
      const scan = await scanDroplet(tmp);
      const cached = await this.#store.commit(sha1, tmp);
      log.info({ event: 'droplet.download.done', sha1, bytes, entries: scan.entries, ms: Date.now() - started }, 'droplet downloaded');
      return cached;
    } catch (err) {
      await rm(tmp, { force: true });
      log.warn({ event: 'droplet.download.failed', code: errorCode(err), err: err instanceof Error ? err.message : String(err) }, 'droplet download failed');
      throw err;
    }
  }
}

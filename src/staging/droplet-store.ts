import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../platform/logger.js';
import { errorCode } from './download-error.js';
import { isValidSha1 } from './sha1.js';

export interface CachedDroplet {
  sha1: string;
  /** `<dropletsDir>/<sha1>/droplet.tgz` */
  path: string;
}

const DROPLET_FILE = 'droplet.tgz';
const TEMP_PREFIX = 'droplet-';
const TEMP_SUFFIX = '.tgz.part';

/**
 * The cache index on disk: `<dir>/<sha1>/droplet.tgz`, and which SHA-1s are complete.
 * Entries only ever appear by an atomic rename of a fully checked temp file, so a crash
 * leaves either the whole droplet or nothing; commits and reaps run one at a time so a
 * reap never renames a directory being filled.
 */
export class DropletStore {
  readonly #dir: string;
  readonly #tmpDir: string;
  readonly #log: Logger;
  /** SHA-1s whose droplet.tgz is complete on disk. */
  readonly #known = new Set<string>();
  #serial: Promise<unknown> = Promise.resolve();
  #init: Promise<void> | undefined;
  #seq = 0;

  /** `tmpDir` must be on the same file system as `dir` for the rename to be atomic. */
  constructor(dir: string, tmpDir: string, log: Logger) {
    this.#dir = path.resolve(dir);
    this.#tmpDir = path.resolve(tmpDir);
    this.#log = log;
  }

  /**
   * Creates the directories and registers the droplets already on disk, so they survive
   * an agent restart. Removes what an interrupted run left: temp files, `.deleted.`
   * directories and SHA-1 directories without a droplet. Idempotent.
   */
  init(): Promise<void> {
    this.#init ??= this.#seed().catch((err: unknown) => {
      this.#init = undefined; // let a later call try again
      throw err;
    });
    return this.#init;
  }

  list(): string[] {
    return [...this.#known];
  }

  has(sha1: string): boolean {
    return this.#known.has(sha1);
  }

  /** A fresh temp file name for a download; init removes the ones a crash left. */
  tempPath(): string {
    return path.join(this.#tmpDir, `${TEMP_PREFIX}${process.pid}-${++this.#seq}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  }

  /** The entry for a known `sha1`, unless its file vanished behind our back. */
  async lookup(sha1: string): Promise<CachedDroplet | null> {
    const cached = this.#entry(sha1);
    if (await isFile(cached.path)) return cached;
    this.#known.delete(sha1);
    this.#log.warn({ event: 'droplet.cache.missing', sha1 }, 'cached droplet disappeared; downloading again');
    return null;
  }

  /** Moves a verified, scanned temp file into place (dir 0755, file 0644). */
  commit(sha1: string, tmp: string): Promise<CachedDroplet> {
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

  /** Removes every droplet `keep` does not claim; returns the SHA-1s removed. */
  reap(keep: (sha1: string) => boolean): Promise<string[]> {
    return this.#exclusive(async () => {
      const removed: string[] = [];
      for (const sha1 of [...this.#known]) {
        if (keep(sha1)) continue;
        this.#known.delete(sha1);
        if (await this.#discard(path.join(this.#dir, sha1))) removed.push(sha1);
      }
      if (removed.length > 0) this.#log.info({ event: 'droplet.reaped', sha1s: removed }, 'reaped unused droplets');
      return removed;
    });
  }

  async #seed(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o755 });
    await mkdir(this.#tmpDir, { recursive: true, mode: 0o755 });
    for (const name of await readdir(this.#dir)) {
      const dir = path.join(this.#dir, name);
      if (name.includes('.deleted.')) await rm(dir, { recursive: true, force: true });
      else if (isValidSha1(name) && (await isFile(path.join(dir, DROPLET_FILE)))) this.#known.add(name);
      else if (isValidSha1(name)) await rm(dir, { recursive: true, force: true });
    }
    for (const name of await readdir(this.#tmpDir)) {
      if (name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX)) await rm(path.join(this.#tmpDir, name), { force: true });
    }
    this.#log.info({ event: 'droplet.cache.seeded', count: this.#known.size }, 'droplet cache ready');
  }

  #entry(sha1: string): CachedDroplet {
    // Only ever called with a validated SHA-1: a message field never builds a path.
    if (!isValidSha1(sha1)) throw new Error(`droplet cache: refusing path for sha1 ${JSON.stringify(sha1)}`);
    return { sha1, path: path.join(this.#dir, sha1, DROPLET_FILE) };
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

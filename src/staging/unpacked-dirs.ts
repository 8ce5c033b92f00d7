import { chown, lstat, mkdir, rename, rm } from 'node:fs/promises';
import { AgentError, ErrorCodes } from '../errors.js';
import type { Layout } from './layout.js';
import type { SparePool, Unpack } from './spares.js';
import type { DiskSource } from '../monitor/disk-source.js';

export interface CachedRef {
  readonly sha1: string;
  readonly path: string;
}

/**
 * How an instance directory is made from a cached droplet and taken away again. The
 * lifecycle only says when; the strategies below say how.
 */
export interface CreateOptions {
  /** The instance's disk quota, for directories that enforce it (a loop disk). */
  readonly diskMb?: number;
}

export interface InstanceDirs {
  create(droplet: CachedRef, localId: string, signal?: AbortSignal, opts?: CreateOptions): Promise<void>;
  /** After a stop: nothing of the instance is left. */
  remove(localId: string): Promise<void>;
  /** After a crash: what the app wrote (its logs above all) is kept at crashes/<id>. */
  retire(localId: string): Promise<void>;
  /** Droplets the directories still depend on, whatever the registry says. */
  mountedDroplets(): Promise<Set<string>>;
  /**
   * How the monitor may measure the instance's disk cheaper than walking its directory,
   * or null: walk the directory (also while what this needs is still being worked out).
   */
  diskSource?(localId: string, dropletSha1: string | null): DiskSource | null;
}


export interface UnpackedDirsOptions {
  readonly layout: Layout;
  readonly unpack: Unpack;
  readonly user: { readonly uid: number; readonly gid: number } | null;
  readonly spares?: SparePool;
}

/** Each instance gets its own unpacked copy (a ready spare when there is one). */
export class UnpackedDirs implements InstanceDirs {
  constructor(private readonly opts: UnpackedDirsOptions) {}

  async create(droplet: CachedRef, localId: string, signal?: AbortSignal): Promise<void> {
    const dir = this.opts.layout.instanceDir(localId);
    if (await this.opts.spares?.take(droplet, dir)) return;
    await makeOwnedDir(dir, this.opts.user);
    const u = this.opts.user;
    await this.opts.unpack(droplet.path, dir, u ? { uid: u.uid, gid: u.gid, signal } : { signal });
  }

  async remove(localId: string): Promise<void> {
    await rm(this.opts.layout.instanceDir(localId), { recursive: true, force: true });
  }

  async retire(localId: string): Promise<void> {
    await rename(this.opts.layout.instanceDir(localId), this.opts.layout.crashDir(localId)).catch(() => undefined);
  }

  /** Unpacked copies do not depend on the cached droplet. */
  async mountedDroplets(): Promise<Set<string>> {
    return new Set();
  }
}

/** A directory the app owns. An existing entry must be a real directory, not a link. */
export async function makeOwnedDir(dir: string, user: { readonly uid: number; readonly gid: number } | null, mode = 0o700): Promise<void> {
  await mkdir(dir, { mode }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new AgentError(ErrorCodes.DROPLET_UNSAFE, `${dir} is not a directory`);
  if (user) await chown(dir, user.uid, user.gid);
}

import { chown, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../platform/logger.js';
import { isValidSha1 } from './sha1.js';

const PREFIX = 'spare-';

export type Unpack = (tgzPath: string, destDir: string, opts: { uid?: number; gid?: number; signal?: AbortSignal }) => Promise<void>;

export interface SparePoolOptions {
  /** Under base_dir, so a spare moves into instances/ with a rename: `<dir>/spare-<sha1>`. */
  readonly dir: string;
  readonly unpack: Unpack;
  readonly user: { readonly uid: number; readonly gid: number } | null;
  readonly logger: Logger;
}

/**
 * One unpacked copy of each droplet in use, kept ready for its next instance: a start of
 * a droplet that has a spare renames it into place (microseconds) instead of running tar
 * on the start path, and a new spare is unpacked in the background. Restarting crashed
 * instances and scaling an app out both start the same droplet again and again.
 * Costs one extra unpacked copy per droplet in use; spares go with their droplet.
 */
export class SparePool {
  private readonly ready = new Set<string>();
  private readonly filling = new Map<string, Promise<void>>();

  constructor(private readonly opts: SparePoolOptions) {}

  /** Spares left by an earlier agent are not trusted: start empty. */
  async init(): Promise<void> {
    for (const name of await readdir(this.opts.dir).catch(() => [] as string[])) {
      if (name.startsWith(PREFIX)) await rm(join(this.opts.dir, name), { recursive: true, force: true });
    }
  }

  /**
   * Moves a ready copy of the droplet to `dest` (which must not exist); false when there
   * was none, and the caller unpacks. Either way a fresh spare is prepared for next time.
   */
  async take(droplet: { readonly sha1: string; readonly path: string }, dest: string): Promise<boolean> {
    if (!isValidSha1(droplet.sha1)) return false;
    let taken = false;
    if (this.ready.delete(droplet.sha1)) {
      taken = await rename(this.spareDir(droplet.sha1), dest).then(
        () => true,
        () => false,
      );
    }
    this.fill(droplet);
    return taken;
  }

  /** Resolves when no spare is being prepared. */
  async idle(): Promise<void> {
    await Promise.all(this.filling.values());
  }

  /** The droplet left the cache: its spare goes too. */
  async drop(sha1: string): Promise<void> {
    if (!isValidSha1(sha1)) return;
    this.ready.delete(sha1);
    await this.filling.get(sha1);
    this.ready.delete(sha1);
    await rm(this.spareDir(sha1), { recursive: true, force: true });
  }

  private fill(droplet: { readonly sha1: string; readonly path: string }): void {
    const { sha1 } = droplet;
    if (this.filling.has(sha1) || this.ready.has(sha1)) return;
    const job = this.unpackSpare(droplet)
      .then(() => {
        this.ready.add(sha1);
      })
      .catch((err: unknown) => {
        this.opts.logger.warn({ event: 'droplet.spare.failed', sha1, err: String(err) }, 'could not prepare a spare');
      })
      .finally(() => this.filling.delete(sha1));
    this.filling.set(sha1, job);
  }

  private async unpackSpare(droplet: { readonly sha1: string; readonly path: string }): Promise<void> {
    const dir = this.spareDir(droplet.sha1);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { mode: 0o700 });
    const user = this.opts.user;
    if (user) await chown(dir, user.uid, user.gid);
    await this.opts.unpack(droplet.path, dir, user ? { uid: user.uid, gid: user.gid } : {});
  }

  private spareDir(sha1: string): string {
    return join(this.opts.dir, `${PREFIX}${sha1}`);
  }
}

import { readFileSync } from 'node:fs';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface UidPoolOptions {
  /** Where taken uids are recorded, one directory each (survives agent restarts). */
  readonly dir: string;
  readonly start: number;
  readonly size: number;
  /** uids a local account already has; never handed out. */
  readonly reserved: ReadonlySet<number>;
}

/**
 * A uid of its own for every container instance, as Warden had: no instance can signal,
 * trace or read another, even with a bug in its own code. A uid is taken by making
 * `<dir>/<uid>` (mkdir is atomic), so two agents on one base_dir, or an agent and the
 * one before it, never hand out the same uid.
 */
export class UidPool {
  private next = 0;

  constructor(private readonly opts: UidPoolOptions) {}

  async init(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
  }

  /** A free uid, or null when every uid of the pool is taken. */
  async acquire(): Promise<number | null> {
    const { start, size, reserved } = this.opts;
    for (let i = 0; i < size; i++) {
      const uid = start + ((this.next + i) % size);
      if (reserved.has(uid)) continue;
      try {
        await mkdir(join(this.opts.dir, String(uid)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      // Round robin: a uid just released is the last to come back, so nothing an earlier
      // instance left running under it (there should be none) meets a newcomer soon.
      this.next = (this.next + i + 1) % size;
      return uid;
    }
    return null;
  }

  async release(uid: number): Promise<void> {
    if (!Number.isInteger(uid) || uid < this.opts.start || uid >= this.opts.start + this.opts.size) return;
    await rmdir(join(this.opts.dir, String(uid))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** The uids taken now (for leak checks and adoption). */
  async taken(): Promise<number[]> {
    const names = await readdir(this.opts.dir).catch(() => [] as string[]);
    return names.map(Number).filter((n) => Number.isInteger(n));
  }
}

/** Every uid /etc/passwd names. */
export function passwdUids(path = '/etc/passwd'): Set<number> {
  const uids = new Set<number>();
  try {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      const uid = Number(line.split(':')[2]);
      if (line.includes(':') && Number.isInteger(uid)) uids.add(uid);
    }
  } catch {
    // no passwd file: no local accounts to avoid
  }
  return uids;
}

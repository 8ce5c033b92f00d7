import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Host-wide claims on subnets and host ports. Routes and DNAT rules are host-wide, so two
 * agents on one host (the tests run several) must never hand out the same /30 or port.
 * A claim is a symlink `<dir>/<kind>/<key>` → the owner's netns name: creating one is
 * atomic (EEXIST when taken), it lives in /run like the namespaces (both end with a
 * reboot), and a claim whose namespace is gone and that is older than a start can take
 * is stale and may be taken over (its agent was killed and nobody swept after it).
 */
export type ClaimKind = 'subnets' | 'ports';

export const CLAIMS_DIR = '/run/dea-net';
const NETNS_DIR = '/run/netns';
/** Longer than any start takes between claiming and making the namespace. */
const STALE_MS = 120_000;

export class Claims {
  constructor(
    private readonly dir = CLAIMS_DIR,
    private readonly netnsDir = NETNS_DIR,
    private readonly now: () => number = Date.now,
  ) {}

  /** The directory claims live in (agents register there too: agents.ts). */
  get root(): string {
    return this.dir;
  }

  async init(): Promise<void> {
    for (const kind of ['subnets', 'ports'] as const) await mkdir(join(this.dir, kind), { recursive: true, mode: 0o700 });
  }

  /** true when `owner` now holds `key` (fresh, taken over from a stale claim, or already its). */
  async claim(kind: ClaimKind, key: string, owner: string): Promise<boolean> {
    const path = join(this.dir, kind, key);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await symlink(owner, path);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await this.holder(kind, key);
      if (holder === owner) return true;
      if (holder === null || !(await this.stale(path, holder))) return false;
      await rm(path, { force: true });
    }
    return false;
  }

  /** Where a claim lives (the supervisor frees it when its instance ends). */
  path(kind: ClaimKind, key: string): string {
    return join(this.dir, kind, key);
  }

  /** Hands `key` from `from` to `to` atomically (a new link renamed over the old); false if `from` no longer holds it. */
  async transfer(kind: ClaimKind, key: string, from: string, to: string): Promise<boolean> {
    if ((await this.holder(kind, key)) !== from) return false;
    const tmp = `${this.path(kind, key)}.${process.pid}.tmp`;
    await rm(tmp, { force: true });
    await symlink(to, tmp);
    await rename(tmp, this.path(kind, key));
    return true;
  }

  /** Gives `key` back if `owner` holds it (never someone else's). */
  async release(kind: ClaimKind, key: string, owner: string): Promise<void> {
    if ((await this.holder(kind, key)) === owner) await rm(join(this.dir, kind, key), { force: true });
  }

  async holder(kind: ClaimKind, key: string): Promise<string | null> {
    return readlink(join(this.dir, kind, key)).catch(() => null);
  }

  /** Every claim of a kind: key → owner. */
  async list(kind: ClaimKind): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const keys = await readdir(join(this.dir, kind)).catch(() => [] as string[]);
    for (const key of keys) {
      if (key.endsWith('.tmp')) continue;
      const owner = await this.holder(kind, key);
      if (owner !== null) out.set(key, owner);
    }
    return out;
  }

  private async stale(path: string, owner: string): Promise<boolean> {
    if (existsSync(join(this.netnsDir, owner))) return false;
    const st = await lstat(path).catch(() => null);
    return st !== null && this.now() - st.mtimeMs > STALE_MS;
  }
}

import { chmod, mkdir, mkdtemp, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../platform/logger.js';
import type { Layout } from './layout.js';
import type { Unpack } from './spares.js';
import { makeOwnedDir, type CachedRef, type InstanceDirs } from './unpacked-dirs.js';
import type { DiskSource } from '../monitor/disk-source.js';
import { treeBytes } from './tree-size.js';
import { shareWithGroup } from './group-share.js';
import type { LoopDisks } from './loop-disk.js';
import type { CreateOptions } from './unpacked-dirs.js';
import { runCommand } from '../platform/spawner/run-command.js';
import { directMount, directUmount } from '../platform/spawner/direct.js';

/** mount(2) and umount2(2), however they are made (the spawn helper, or mount(8)). */
export interface Mounter {
  mount(source: string, fstype: string, target: string, data: string): Promise<void>;
  /** True once unmounted. */
  umount(target: string, lazy: boolean): Promise<boolean>;
}

const commandMounter: Mounter = { mount: directMount, umount: directUmount };

export interface OverlayDirsOptions {
  readonly layout: Layout;
  readonly unpack: Unpack;
  readonly user: { readonly uid: number; readonly gid: number } | null;
  readonly logger: Logger;
  /**
   * Give each tree's group its owner's rights: apps that run as uids of their own in the
   * tree owner's group (the container backend) can then change their views of it.
   */
  readonly shareWithGroup?: boolean;
  /** Put each instance's writable layer on a filesystem of its disk quota's size. */
  readonly loopDisks?: LoopDisks;
  /** Where apps see their directory besides its host path (the container backend's `/home/vcap`). */
  readonly seenInside?: readonly string[];
  /** Default: mount(8) and umount(8) in children of the agent. */
  readonly mounter?: Mounter;
}

/**
 * A droplet is unpacked once per SHA-1 into a read-only tree, and each instance gets an
 * overlayfs view of it: the tree below, a directory of its own above, copy-up on write.
 * Twenty instances of one droplet cost one extraction and twenty mounts (a few ms each)
 * instead of twenty extractions, and the cached tree stays untouched whatever an app
 * writes. A mount outlives the agent, as its instances do. Needs root and overlayfs:
 * `overlaySupported` probes both once at start.
 */
export class OverlayDirs implements InstanceDirs {
  private readonly trees = new Map<string, Promise<string>>();
  /** Bytes of each droplet's tree, once known (a tree never changes once unpacked). */
  private readonly treeSizes = new Map<string, number | 'pending'>();
  /** Each instance's disk source once known: asked for every instance on every monitor tick. */
  private readonly diskSources = new Map<string, DiskSource>();

  private readonly mounter: Mounter;

  constructor(private readonly opts: OverlayDirsOptions) {
    this.mounter = opts.mounter ?? commandMounter;
  }

  async create(droplet: CachedRef, localId: string, signal?: AbortSignal, opts: CreateOptions = {}): Promise<void> {
    const lower = await this.tree(droplet);
    signal?.throwIfAborted();
    const { upper, work } = this.rw(localId);
    await mkdir(this.rwRoot(localId), { mode: 0o700 });
    if (this.opts.loopDisks && opts.diskMb !== undefined) {
      await this.opts.loopDisks.mount(localId, opts.diskMb, this.rwRoot(localId));
      await chmod(this.rwRoot(localId), 0o700);
    }
    // The merged root takes its owner and mode from the upper directory.
    await makeOwnedDir(upper, this.opts.user);
    await mkdir(work, { mode: 0o700 });
    const dir = this.opts.layout.instanceDir(localId);
    await mkdir(dir, { mode: 0o700 });
    await mountOverlay(this.mounter, lower, upper, work, dir);
  }

  async remove(localId: string): Promise<void> {
    this.diskSources.delete(localId);
    await this.unmount(localId);
    await this.opts.loopDisks?.unmount(localId, this.rwRoot(localId));
    await rm(this.rwRoot(localId), { recursive: true, force: true });
  }

  async retire(localId: string): Promise<void> {
    this.diskSources.delete(localId);
    await this.unmount(localId);
    // What the app wrote, its logs included, is the upper layer: that is the crash record.
    // On a loop disk it lives on another filesystem, where a rename cannot reach: copy it.
    const { upper } = this.rw(localId);
    const crash = this.opts.layout.crashDir(localId);
    if (this.opts.loopDisks) await runCommand('cp', ['-a', upper, crash]);
    else await rename(upper, crash).catch(() => undefined);
    await this.opts.loopDisks?.unmount(localId, this.rwRoot(localId));
    await rm(this.rwRoot(localId), { recursive: true, force: true });
  }

  /**
   * The droplet's tree, unpacked once however many instances start together; again if
   * the droplet was reaped and has come back since.
   */
  private async tree(droplet: CachedRef): Promise<string> {
    const cached = this.trees.get(droplet.sha1);
    if (cached) {
      const path = await cached.catch(() => null);
      if (path !== null && (await isDir(path))) return path;
      if (this.trees.get(droplet.sha1) !== cached) return this.tree(droplet);
    }
    const t = this.unpackTree(droplet);
    this.trees.set(droplet.sha1, t);
    t.catch(() => {
      if (this.trees.get(droplet.sha1) === t) this.trees.delete(droplet.sha1);
    });
    return t;
  }

  private async unpackTree(droplet: CachedRef): Promise<string> {
    // droplets/<sha1>/lower is root's, mode 0700 once ready, so no app can reach the tree
    // on the host and change what every instance of the droplet sees.
    const box = join(this.opts.layout.droplets, droplet.sha1, 'lower');
    const tree = join(box, 'tree');
    if (await isDir(tree)) return tree;
    await mkdir(box, { recursive: true, mode: 0o711 });
    await chmod(box, 0o711);
    const tmp = await mkdtemp(join(box, 'tree.tmp-'));
    try {
      await makeOwnedDir(tmp, this.opts.user);
      const u = this.opts.user;
      await this.opts.unpack(droplet.path, tmp, u ? { uid: u.uid, gid: u.gid } : {});
      if (this.opts.shareWithGroup) await shareWithGroup(tmp);
      await rename(tmp, tree);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    await chmod(box, 0o700);
    return tree;
  }

  /**
   * Droplets whose tree is the lower layer of a live mount, this agent's or an earlier
   * one's (its instances outlive it): never reaped, whatever the registry says.
   */
  async mountedDroplets(): Promise<Set<string>> {
    const prefix = `lowerdir=${this.opts.layout.droplets}/`;
    const found = new Set<string>();
    const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
    for (const line of mounts.split('\n')) {
      const at = line.indexOf(prefix);
      if (at >= 0) found.add(line.slice(at + prefix.length, at + prefix.length + 40));
    }
    return found;
  }

  private async unmount(localId: string): Promise<void> {
    const dir = this.opts.layout.instanceDir(localId);
    if (!(await this.mounter.umount(dir, false))) await this.mounter.umount(dir, true);
    await rmdir(dir).catch(() => undefined);
  }

  /**
   * The writable layer plus the droplet's tree size, known once (walked in the
   * background on first ask; null meanwhile). With a loop disk, one statfs of its
   * filesystem. `seenAs`: where the instance's processes see their directory (the view
   * on the host; `/home/vcap` in a container).
   */
  diskSource(localId: string, dropletSha1: string | null): DiskSource | null {
    const known = this.diskSources.get(localId);
    if (known) return known;
    if (dropletSha1 === null) return null;
    const base = this.treeSize(dropletSha1);
    if (base === null) return null;
    const source: DiskSource = this.opts.loopDisks
      ? { kind: 'statfs', path: this.rwRoot(localId), baseBytes: base }
      : { kind: 'walk', walk: this.rw(localId).upper, seenAs: [this.opts.layout.instanceDir(localId), ...(this.opts.seenInside ?? [])], baseBytes: base };
    this.diskSources.set(localId, source);
    return source;
  }

  private treeSize(sha1: string): number | null {
    const known = this.treeSizes.get(sha1);
    if (typeof known === 'number') return known;
    if (known === undefined) {
      this.treeSizes.set(sha1, 'pending');
      const tree = join(this.opts.layout.droplets, sha1, 'lower', 'tree');
      treeBytes(tree).then(
        (bytes) => this.treeSizes.set(sha1, bytes),
        () => this.treeSizes.delete(sha1),
      );
    }
    return null;
  }

  private rwRoot(localId: string): string {
    return join(this.opts.layout.layers, localId);
  }

  private rw(localId: string): { upper: string; work: string } {
    const root = this.rwRoot(localId);
    return { upper: join(root, 'upper'), work: join(root, 'work') };
  }
}

/** overlayfs options are comma- and colon-separated: paths holding either cannot be named. */
function safeForOptions(path: string): boolean {
  return !/[,:\\\s]/.test(path);
}

async function mountOverlay(mounter: Mounter, lower: string, upper: string, work: string, dir: string): Promise<void> {
  for (const p of [lower, upper, work]) if (!safeForOptions(p)) throw new Error(`path unusable in overlay options: ${p}`);
  await mounter.mount('overlay', 'overlay', dir, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Whether this agent can give instances overlay views: root, overlayfs, usable paths. */
export async function overlaySupported(layout: Layout, logger: Logger, mounter: Mounter = commandMounter): Promise<boolean> {
  if (process.getuid?.() !== 0 || !safeForOptions(layout.baseDir)) return false;
  const probe = await mkdtemp(join(layout.tmp, 'overlay-probe-'));
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => join(probe, n)) as [string, string, string, string];
  try {
    for (const d of [lower, upper, work, merged]) await mkdir(d);
    await mountOverlay(mounter, lower, upper, work, merged);
    if (!(await mounter.umount(merged, false))) throw new Error('umount failed');
    return true;
  } catch (err) {
    logger.info({ event: 'staging.overlay.unavailable', err: String(err).slice(0, 300) }, 'overlayfs unavailable: each instance gets its own unpacked copy');
    return false;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

import { lstatSync, readdirSync, realpathSync, type Stats } from 'node:fs';
import path from 'node:path';

/** Syscall counters, for benchmarks and tests of how little a pass touches. */
export interface DiskStats {
  /** lstat of directories (every known directory, every pass) */
  dirsStat: number;
  /** readdir of directories (new, changed, or in a full rescan) */
  dirsRead: number;
  /** lstat/stat of non-directory entries and of files held open for writing */
  filesStat: number;
  /** entries of /proc/<pid>/fd looked at */
  fdsRead: number;
}

interface FileEntry {
  ino: number;
  blocks: number;
  nlink: number;
  isDir: boolean;
}

interface DirState {
  readonly ino: number;
  readonly mtimeMs: number;
  /** when its entries were last all lstat'ed (back-dated on first listing to spread rescans) */
  readonly listedAtMs: number;
  /** modified so close to its listing that a later change may share its mtime */
  readonly racy: boolean;
  readonly entries: Map<string, FileEntry>;
  /** the directory's own blocks, from this pass's lstat */
  blocks: number;
  /** Σ blocks of entries with one link (the common case, kept as a running sum) */
  singleBlocks: number;
  /** entries with more than one link: counted once per inode across the instance */
  readonly linked: Set<FileEntry>;
  gen: number;
}

/**
 * Timestamps come from the kernel's coarse clock (a few ms granule): a directory modified
 * within this long of the pass that listed it is listed again next pass, since a second
 * change in the same granule would leave its mtime equal (git's "racy" index problem).
 */
const RACY_MS = 1000;

/** Golden-ratio steps give evenly spread phases however many directories there are. */
const GOLDEN = 0.6180339887498949;

/**
 * The cached shape of one instance directory: per directory its inode, mtime and the
 * lstat of each entry. A pass lstat's every known directory and re-lists (readdir + lstat
 * of each entry) only those whose mtime or inode changed, plus those not re-listed for
 * `rescanMs`: that rolling rescan bounds how long an in-place rewrite of a closed file can
 * go unseen. First listings are back-dated by an evenly spread phase, so an instance's
 * rescans are spread over passes rather than all due at once (no pass stalls the event
 * loop for a whole-tree walk, save the first).
 *
 * Sizes are st_blocks × 512 (allocated, as du counts). Symlinks are never followed, and
 * nothing on another device (mount points, bind mounts) is counted or entered.
 *
 * Inode numbers are JS numbers: on a filesystem with inodes above 2^53, two hard-linked
 * inodes could merge in the once-per-inode count. No supported filesystem hands those out.
 */
export class DiskTree {
  private readonly dirs = new Map<string, DirState>();
  private gen = 0;
  private firstListings = 0;

  private constructor(
    /** real path: what readlink of /proc/<pid>/fd/* reports, so open files match */
    readonly root: string,
    readonly dev: number,
    readonly rootIno: number,
    private readonly rescanMs: number,
  ) {}

  /** Null when `dir` is not a directory (or does not exist). */
  static open(dir: string, rescanMs: number): DiskTree | null {
    try {
      const root = realpathSync(dir);
      const st = lstatSync(root);
      return st.isDirectory() ? new DiskTree(root, st.dev, st.ino, rescanMs) : null;
    } catch {
      return null;
    }
  }

  /**
   * Brings the cache up to date; returns how many of how many directories were listed.
   * Null when the root is gone or has been replaced by another directory (a new inode or
   * device): the caller starts a new DiskTree.
   */
  pass(nowMs: number, stats: DiskStats): { listed: number; dirs: number } | null {
    const gen = ++this.gen;
    let listed = 0;
    const stack = [this.root];
    for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
      const st = lstatOrNull(dir);
      stats.dirsStat++;
      if (dir === this.root && (st === null || st.ino !== this.rootIno || st.dev !== this.dev)) return null;
      if (st === null || !st.isDirectory() || st.dev !== this.dev) continue;
      let d = this.dirs.get(dir);
      const due = d !== undefined && nowMs - d.listedAtMs >= this.rescanMs;
      if (d === undefined || due || changed(d, st)) {
        d = listDir(dir, st, this.dev, this.listedAt(d, due, nowMs), nowMs, stats);
        this.dirs.set(dir, d);
        listed++;
      }
      d.blocks = st.blocks;
      d.gen = gen;
      for (const [name, e] of d.entries) if (e.isDir) stack.push(`${dir}/${name}`);
    }
    for (const [dir, d] of this.dirs) if (d.gen !== gen) this.dirs.delete(dir);
    return { listed, dirs: this.dirs.size };
  }

  /** Bytes allocated under the root, hard-linked files counted once. */
  bytes(): number {
    let blocks = 0;
    const linked = new Set<number>();
    for (const d of this.dirs.values()) {
      blocks += d.blocks + d.singleBlocks;
      for (const e of d.linked) {
        if (linked.has(e.ino)) continue;
        linked.add(e.ino);
        blocks += e.blocks;
      }
    }
    return blocks * 512;
  }

  /**
   * Updates a cached file from a fresh stat (a file held open for writing may have grown
   * without touching its directory's mtime). False if the path is not a cached file.
   */
  update(file: string, st: Stats): boolean {
    const d = this.dirs.get(path.dirname(file));
    const e = d?.entries.get(path.basename(file));
    if (d === undefined || e === undefined || e.isDir || e.ino !== st.ino) return false;
    contribute(d, e, -1);
    e.blocks = st.blocks;
    e.nlink = st.nlink;
    contribute(d, e, +1);
    return true;
  }

  /**
   * When a listing counts as done for the rescan clock. A first listing is back-dated by a
   * spread fraction of `rescanMs`; a listing because a change was seen keeps the old clock
   * (so the spread survives many directories changing at once); a due rescan resets it.
   */
  private listedAt(old: DirState | undefined, due: boolean, nowMs: number): number {
    if (old === undefined) return nowMs - ((++this.firstListings * GOLDEN) % 1) * this.rescanMs;
    return due ? nowMs : old.listedAtMs;
  }
}

function changed(d: DirState, st: Stats): boolean {
  return d.racy || d.ino !== st.ino || d.mtimeMs !== st.mtimeMs;
}

function listDir(dir: string, st: Stats, dev: number, listedAtMs: number, nowMs: number, stats: DiskStats): DirState {
  const d: DirState = {
    ino: st.ino,
    mtimeMs: st.mtimeMs,
    listedAtMs,
    racy: st.mtimeMs >= nowMs - RACY_MS,
    entries: new Map(),
    blocks: st.blocks,
    singleBlocks: 0,
    linked: new Set(),
    gen: 0,
  };
  stats.dirsRead++;
  let names: string[];
  try {
    // Plain names: every entry is lstat'ed for its blocks anyway, which also gives its type.
    names = readdirSync(dir);
  } catch {
    return d;
  }
  for (const name of names) {
    const est = lstatOrNull(`${dir}/${name}`);
    stats.filesStat++;
    // Another device here is a mount point or a bind-mounted file: not this instance's disk.
    if (est === null || est.dev !== dev) continue;
    const e: FileEntry = { ino: est.ino, blocks: est.blocks, nlink: est.nlink, isDir: est.isDirectory() };
    d.entries.set(name, e);
    contribute(d, e, +1);
  }
  return d;
}

/** Adds (+1) or removes (-1) a file's share of its directory's totals. */
function contribute(d: DirState, e: FileEntry, sign: 1 | -1): void {
  if (e.isDir) return; // a directory's blocks come from its own lstat each pass
  if (e.nlink > 1) {
    if (sign > 0) d.linked.add(e);
    else d.linked.delete(e);
  } else {
    d.singleBlocks += sign * e.blocks;
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    // throwIfNoEntry: entries deleted mid-pass are common enough to avoid an exception each.
    return lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    // vanished between readdir and lstat, or unreadable: not counted this pass
    return null;
  }
}

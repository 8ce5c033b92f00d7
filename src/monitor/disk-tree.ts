import { lstatSync, readdirSync, realpathSync, type Stats } from 'node:fs';

/** Syscall counters, for benchmarks and tests of how little a pass touches. */
export interface DiskStats {
  /** lstat of directories (every known directory, every pass) */
  dirsStat: number;
  /** readdir of directories (new, changed, due for rescan) */
  dirsRead: number;
  /** lstat/stat of non-directory entries and of files held open for writing */
  filesStat: number;
  /** entries of /proc/<pid>/fd looked at */
  fdsRead: number;
}

/** A file whose blocks are remembered individually. */
interface Counted {
  readonly ino: number;
  blocks: number;
}

/**
 * What is kept of one directory: sums, not one record per file, so that 500 instances of
 * 2,000 files hold a few thousand small objects instead of a million (heap, GC pauses, and
 * the fork cost of a big agent).
 */
interface DirState {
  readonly ino: number;
  readonly mtimeMs: number;
  /** when its entries were last all lstat'ed (back-dated on first listing to spread rescans) */
  readonly listedAtMs: number;
  /** modified so close to its listing that a later change may share its mtime */
  readonly racy: boolean;
  /** the directory's own blocks, from this pass's lstat */
  blocks: number;
  /** Σ blocks of entries with one link */
  fileBlocks: number;
  readonly subdirs: readonly string[];
  /** entries with more than one link: counted once per inode across the instance */
  readonly linked: Map<string, Counted> | null;
  /** single-link files held open for writing when listed: their share of fileBlocks */
  readonly tracked: Map<string, Counted> | null;
  /** names reported open that the listing did not find as files (raced away): not re-listed for */
  readonly unmatched: ReadonlySet<string> | null;
  gen: number;
}

/** Files held open for writing, by directory then name, with a stat taken through the fd. */
export type OpenByDir = ReadonlyMap<string, ReadonlyMap<string, Stats>>;

/**
 * Timestamps come from the kernel's coarse clock (a few ms granule): a directory modified
 * within this long of the pass that listed it is listed again next pass, since a second
 * change in the same granule would leave its mtime equal (git's "racy" index problem).
 */
const RACY_MS = 1000;

/** Golden-ratio steps give evenly spread phases however many directories there are. */
const GOLDEN = 0.6180339887498949;

const NO_OPEN: ReadonlyMap<string, Stats> = new Map();

/**
 * The cached shape of one instance directory. A pass lstat's every known directory and
 * re-lists (readdir + lstat of each entry) only those whose mtime or inode changed, plus
 * those not re-listed for `rescanMs`: that rolling rescan bounds how long an in-place
 * rewrite of a closed file can go unseen. First listings are back-dated by an evenly spread
 * phase, so rescans are spread over passes rather than all due at once.
 *
 * Files held open for writing grow without touching their directory: their fresh blocks
 * replace what the listing counted (a file newly open gets its directory re-listed once, so
 * that its counted share is known).
 *
 * Sizes are st_blocks × 512 (allocated, as du counts). Symlinks are never followed, and
 * nothing on another device (mount points, bind mounts) is counted or entered. Inode
 * numbers are JS numbers: inodes above 2^53 could merge in the once-per-inode count of
 * hard links; no supported filesystem hands those out.
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
   * Brings the sums up to date; returns how many of how many directories were listed.
   * Null when the root is gone or has been replaced by another directory (a new inode or
   * device): the caller starts a new DiskTree.
   */
  pass(nowMs: number, open: OpenByDir, stats: DiskStats): { listed: number; dirs: number } | null {
    const gen = ++this.gen;
    let listed = 0;
    const stack = [this.root];
    for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
      const st = lstatOrNull(dir);
      stats.dirsStat++;
      if (dir === this.root && (st === null || st.ino !== this.rootIno || st.dev !== this.dev)) return null;
      if (st === null || !st.isDirectory() || st.dev !== this.dev) continue;
      const here = open.get(dir) ?? NO_OPEN;
      let d = this.dirs.get(dir);
      const due = d !== undefined && nowMs - d.listedAtMs >= this.rescanMs;
      if (d === undefined || due || changed(d, st) || !applyOpen(d, here)) {
        d = listDir(dir, st, this.dev, this.listedAt(d, due, nowMs), nowMs, here, stats);
        this.dirs.set(dir, d);
        listed++;
      }
      d.blocks = st.blocks;
      d.gen = gen;
      for (const name of d.subdirs) stack.push(`${dir}/${name}`);
    }
    for (const [dir, d] of this.dirs) if (d.gen !== gen) this.dirs.delete(dir);
    return { listed, dirs: this.dirs.size };
  }

  /** Bytes allocated under the root, hard-linked files counted once. */
  bytes(): number {
    let blocks = 0;
    let seen: Set<number> | undefined;
    for (const d of this.dirs.values()) {
      blocks += d.blocks + d.fileBlocks;
      for (const l of d.linked?.values() ?? []) {
        seen ??= new Set();
        if (seen.has(l.ino)) continue;
        seen.add(l.ino);
        blocks += l.blocks;
      }
    }
    return blocks * 512;
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

/**
 * Replaces the counted blocks of files held open for writing with their fresh figure.
 * False if one of them was not open when the directory was listed (its share of the sum
 * is unknown): the caller re-lists the directory.
 */
function applyOpen(d: DirState, open: ReadonlyMap<string, Stats>): boolean {
  for (const [name, st] of open) {
    const linked = d.linked?.get(name);
    const tracked = d.tracked?.get(name);
    if (linked?.ino === st.ino) {
      linked.blocks = st.blocks;
    } else if (tracked?.ino === st.ino) {
      d.fileBlocks += st.blocks - tracked.blocks;
      tracked.blocks = st.blocks;
    } else if (!d.unmatched?.has(name)) {
      return false;
    }
  }
  return true;
}

function listDir(
  dir: string,
  st: Stats,
  dev: number,
  listedAtMs: number,
  nowMs: number,
  open: ReadonlyMap<string, Stats>,
  stats: DiskStats,
): DirState {
  const subdirs: string[] = [];
  let linked: Map<string, Counted> | null = null;
  let tracked: Map<string, Counted> | null = null;
  let fileBlocks = 0;
  stats.dirsRead++;
  for (const name of readNames(dir)) {
    const est = lstatOrNull(`${dir}/${name}`);
    stats.filesStat++;
    // Another device here is a mount point or a bind-mounted file: not this instance's disk.
    if (est === null || est.dev !== dev) continue;
    if (est.isDirectory()) {
      subdirs.push(name); // its blocks come from its own lstat each pass
    } else if (est.nlink > 1) {
      (linked ??= new Map()).set(name, { ino: est.ino, blocks: est.blocks });
    } else {
      fileBlocks += est.blocks;
      if (open.has(name)) (tracked ??= new Map()).set(name, { ino: est.ino, blocks: est.blocks });
    }
  }
  let unmatched: Set<string> | null = null;
  for (const name of open.keys()) if (!tracked?.has(name) && !linked?.has(name)) (unmatched ??= new Set()).add(name);
  const racy = st.mtimeMs >= nowMs - RACY_MS;
  return { ino: st.ino, mtimeMs: st.mtimeMs, listedAtMs, racy, blocks: st.blocks, fileBlocks, subdirs, linked, tracked, unmatched, gen: 0 };
}

/** Plain names: every entry is lstat'ed for its blocks anyway, which also gives its type. */
function readNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return []; // removed or replaced meanwhile: the next pass sees it
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    // throwIfNoEntry: entries deleted mid-pass are common enough to avoid an exception each.
    return lstatSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null; // unreadable: not counted this pass
  }
}

import type { Stats } from 'node:fs';
import { DiskTree, type DiskStats, type OpenByDir } from './disk-tree.js';
import { OpenFiles } from './open-files.js';
import { statfsUsedBytes } from './disk-source.js';

export type { DiskStats } from './disk-tree.js';

/** One disk figure and how fresh it is. */
export interface DiskFigure {
  /** bytes allocated under the instance directory (st_blocks × 512, hard links once) */
  readonly bytes: number;
  readonly measuredAtMs: number;
  /** whether this pass listed every directory (a first pass, or all were due) */
  readonly full: boolean;
}

export interface DiskMeterOptions {
  /**
   * Every directory is re-listed (each entry lstat'ed) at least this often, at the first
   * pass after that much time: bounds how long an in-place rewrite of a closed file (no
   * directory mtime change, no writer open at pass time) can go unseen.
   */
  readonly fullRescanMs?: number;
}

const DEFAULT_FULL_RESCAN_MS = 10 * 60_000;
const DEFAULT_MAX_AGE_MS = 30_000;
/** The monitor tick assumed before due() has seen two calls (monitor.interval_ms). */
const DEFAULT_TICK_MS = 2000;

interface Instance {
  readonly dir: string;
  readonly tree: DiskTree;
}

/**
 * Disk usage of instance directories, measured incrementally so that a pass costs about
 * one lstat per directory instead of one per file:
 *  - a directory is re-listed only when its mtime or inode changed (files created,
 *    deleted or renamed in it);
 *  - files the instance's processes hold open for writing are re-stat'ed every pass,
 *    since appends change no directory mtime; deleted files still held open count too
 *    (their blocks are still allocated, as a filesystem quota would see them);
 *  - every directory is re-listed at least every `fullRescanMs`, rolling: the directories
 *    of an instance fall due at spread times, so the cost is even across passes.
 * `nowMs` must be wall-clock epoch ms: it is compared with directory mtimes.
 */
export class DiskMeter {
  private readonly instances = new Map<string, Instance>();
  private readonly figures = new Map<string, DiskFigure>();
  private readonly counters: DiskStats = { dirsStat: 0, dirsRead: 0, filesStat: 0, fdsRead: 0 };
  private readonly fullRescanMs: number;
  private lastDueMs: number | undefined;
  private readonly openFilesOf = new OpenFiles();

  constructor(options: DiskMeterOptions = {}) {
    this.fullRescanMs = options.fullRescanMs ?? DEFAULT_FULL_RESCAN_MS;
  }

  /**
   * Measures the instance `key` whose directory is `dir`; `pids` are its live processes
   * (their open files are checked). A missing directory measures 0 bytes.
   */
  measure(key: string, dir: string, pids: readonly number[], nowMs: number, seenAs: readonly string[] = []): DiskFigure {
    const inst = this.instanceFor(key, dir);
    let figure: DiskFigure = { bytes: 0, measuredAtMs: nowMs, full: true };
    const open = inst === null ? null : this.openFiles(inst.tree, pids, seenAs);
    const pass = inst === null || open === null ? null : inst.tree.pass(nowMs, open.byDir, this.counters);
    if (inst !== null && open !== null && pass !== null) {
      figure = { bytes: inst.tree.bytes() + open.heldDeletedBytes, measuredAtMs: nowMs, full: pass.listed === pass.dirs };
    } else {
      this.instances.delete(key); // removed, or replaced: start over next time
    }
    this.figures.set(key, figure);
    return figure;
  }

  /**
   * An instance with a filesystem of its own (a loop disk): its used blocks, one statfs,
   * plus `baseBytes`; null when nothing is mounted at `path`.
   */
  measureFs(key: string, path: string, baseBytes: number, nowMs: number): DiskFigure | null {
    const used = statfsUsedBytes(path);
    if (used === null) return null;
    const figure = { bytes: used + baseBytes, measuredAtMs: nowMs, full: true };
    this.figures.set(key, figure);
    return figure;
  }

  /** The latest figure for `key`, or null if it was never measured. */
  last(key: string): DiskFigure | null {
    return this.figures.get(key) ?? null;
  }

  forget(key: string): void {
    this.instances.delete(key);
    this.figures.delete(key);
  }

  /**
   * Which of `keys` to measure at this tick. Oldest figure first (never measured first of
   * all), as many as spread the whole set evenly over the ticks of one `maxAgeMs` window,
   * plus any that would otherwise be older than `maxAgeMs` at the next tick. The tick
   * interval is learnt from the spacing of calls. `budget`, when given, caps the count;
   * if it is too small the bound is missed, visibly, in each figure's measuredAtMs.
   */
  due(keys: readonly string[], nowMs: number, maxAgeMs = DEFAULT_MAX_AGE_MS, budget?: number): string[] {
    const prev = this.lastDueMs;
    this.lastDueMs = nowMs;
    const interval = Math.min(maxAgeMs, prev === undefined || nowMs <= prev ? DEFAULT_TICK_MS : nowMs - prev);
    const lastAt = (k: string) => this.figures.get(k)?.measuredAtMs ?? -Infinity;
    const sorted = [...keys].sort((a, b) => compare(lastAt(a), lastAt(b)));
    const window = Math.max(interval, maxAgeMs - interval);
    const spread = Math.ceil((keys.length * interval) / window);
    const overdue = keys.filter((k) => Number.isFinite(lastAt(k)) && nowMs + interval - lastAt(k) > maxAgeMs).length;
    return sorted.slice(0, budget ?? Math.max(spread, overdue));
  }

  stats(): DiskStats {
    return { ...this.counters };
  }

  private instanceFor(key: string, dir: string): Instance | null {
    const known = this.instances.get(key);
    if (known !== undefined && known.dir === dir) return known;
    const tree = DiskTree.open(dir, this.fullRescanMs);
    if (tree === null) return null;
    const inst = { dir, tree };
    this.instances.set(key, inst);
    return inst;
  }

  /**
   * The instance's files held open for writing, by directory (the tree refreshes their
   * blocks), and the bytes of deleted ones still held (in no directory, so apart).
   */
  private openFiles(tree: DiskTree, pids: readonly number[], seenAs: readonly string[]): { byDir: OpenByDir; heldDeletedBytes: number } {
    const byDir = new Map<string, Map<string, Stats>>();
    let heldBlocks = 0;
    const seen = new Set<number>();
    for (const { path, deleted, st, mapped } of this.openFilesOf.scan(pids, tree.root, this.counters, seenAs)) {
      // Through another view st.dev is the view's; the path says it is ours.
      if ((!mapped && st.dev !== tree.dev) || seen.has(st.ino)) continue;
      seen.add(st.ino);
      if (deleted) {
        heldBlocks += st.blocks;
        continue;
      }
      const slash = path.lastIndexOf('/');
      const dir = path.slice(0, slash);
      let names = byDir.get(dir);
      if (names === undefined) byDir.set(dir, (names = new Map()));
      names.set(path.slice(slash + 1), st);
    }
    return { byDir, heldDeletedBytes: heldBlocks * 512 };
  }
}

function compare(a: number, b: number): number {
  return a === b ? 0 : a < b ? -1 : 1;
}

import { lstatSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import type { DiskStats } from './disk-tree.js';

/** A regular file under an instance directory that one of its processes holds open for writing. */
export interface OpenWritable {
  /** the path it was opened by, without the " (deleted)" mark */
  readonly path: string;
  /** unlinked from every directory (still allocated while held) */
  readonly deleted: boolean;
  /** stat of the open file itself (through the fd link), so right even if renamed or deleted */
  readonly st: Stats;
  /**
   * Opened through another view of the same files (`seenAs`: an overlay mount, a
   * container's /home/vcap): `path` is translated to `root`, and `st.dev` is the view's.
   */
  readonly mapped: boolean;
}

const DELETED = ' (deleted)';

/** A process's last full look: its fd names, and which of them were writable files of ours. */
interface Memo {
  readonly fds: string;
  readonly found: readonly { readonly link: string; readonly file: OpenWritable }[];
  looks: number;
  usedAt: number;
}

/**
 * Files the processes `pids` hold open for writing under `root` (a real path), read from
 * /proc/<pid>/fd without a fork. Per fd: one readlink; only targets under `root` then cost
 * an lstat of the fd link (whose mode bits say how it was opened: 0200 = writable) and a
 * stat through it. Sockets, pipes and files elsewhere cost the readlink alone. Targets
 * under one of `seenAs` (where the processes see the same files) count as under `root`.
 *
 * With a memory per process: while a process's fd numbers stay the
 * same, its files are re-stat'ed through their fd links (one call each: the size, and the
 * inode that proves the fd still names the same file) instead of a readlink, an lstat
 * and a stat of every fd. A new fd behind an old number (a socket closed, a file opened
 * in its place) is seen at the next full look, every `fullEvery` looks; a changed set of
 * numbers is seen at once. Processes not asked about for `forgetAfter` scans are dropped.
 */
export class OpenFiles {
  private readonly memos = new Map<number, Memo>();
  private scans = 0;

  constructor(
    private readonly fullEvery = 4,
    private readonly forgetAfter = 64,
  ) {}

  scan(pids: readonly number[], root: string, stats: DiskStats, seenAs: readonly string[] = []): OpenWritable[] {
    const views = [{ prefix: `${root}/`, to: null }, ...seenAs.map((v) => ({ prefix: `${v}/`, to: `${root}/` }))];
    const out: OpenWritable[] = [];
    this.scans++;
    for (const pid of pids) {
      const dir = `/proc/${pid}/fd`;
      let fds: string[];
      try {
        fds = readdirSync(dir);
      } catch {
        this.memos.delete(pid);
        continue; // exited, or not ours to read
      }
      const names = fds.join(',');
      const memo = this.memos.get(pid);
      const again = memo !== undefined && memo.fds === names && memo.looks % this.fullEvery !== 0 ? this.restat(memo, stats) : null;
      if (again !== null) {
        memo!.looks++;
        memo!.usedAt = this.scans;
        out.push(...again);
        continue;
      }
      const found: { link: string; file: OpenWritable }[] = [];
      for (const fd of fds) {
        stats.fdsRead++;
        const link = `${dir}/${fd}`;
        const file = writableUnder(link, views, stats);
        if (file !== null) found.push({ link, file });
      }
      this.memos.set(pid, { fds: names, found, looks: 1, usedAt: this.scans });
      out.push(...found.map((f) => f.file));
    }
    if (this.scans % this.forgetAfter === 0) this.forgetIdle();
    return out;
  }

  /** The memo's files stat'ed again; null when one of them is not the file it was. */
  private restat(memo: Memo, stats: DiskStats): OpenWritable[] | null {
    const out: OpenWritable[] = [];
    for (const { link, file } of memo.found) {
      let st: Stats;
      try {
        st = statSync(link);
      } catch {
        return null;
      }
      stats.filesStat++;
      if (st.ino !== file.st.ino || st.dev !== file.st.dev) return null;
      out.push({ ...file, st, deleted: file.deleted || st.nlink === 0 });
    }
    return out;
  }

  private forgetIdle(): void {
    for (const [pid, memo] of this.memos) if (this.scans - memo.usedAt >= this.forgetAfter) this.memos.delete(pid);
  }
}

interface View {
  readonly prefix: string;
  /** What `prefix` stands for under the root; null: the root itself. */
  readonly to: string | null;
}

function writableUnder(link: string, views: readonly View[], stats: DiskStats): OpenWritable | null {
  try {
    const seen = readlinkSync(link);
    const view = views.find((v) => seen.startsWith(v.prefix));
    if (view === undefined) return null;
    if ((lstatSync(link).mode & 0o200) === 0) return null;
    const st = statSync(link);
    stats.filesStat++;
    if (!st.isFile()) return null;
    const target = view.to === null ? seen : view.to + seen.slice(view.prefix.length);
    const mapped = view.to !== null;
    if (st.nlink === 0) return { path: target.endsWith(DELETED) ? target.slice(0, -DELETED.length) : target, deleted: true, st, mapped };
    // Unlinked here but linked elsewhere: the path is stale, the other link is counted.
    if (target.endsWith(DELETED)) return null;
    return { path: target, deleted: false, st, mapped };
  } catch {
    return null; // the fd was closed or the process exited meanwhile
  }
}

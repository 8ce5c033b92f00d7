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

/**
 * Files the processes `pids` hold open for writing under `root` (a real path), read from
 * /proc/<pid>/fd without a fork. Per fd: one readlink; only targets under `root` then cost
 * an lstat of the fd link (whose mode bits say how it was opened: 0200 = writable) and a
 * stat through it. Sockets, pipes and files elsewhere cost the readlink alone. Targets
 * under one of `seenAs` (where the processes see the same files) count as under `root`.
 */
export function openWritableFiles(pids: readonly number[], root: string, stats: DiskStats, seenAs: readonly string[] = []): OpenWritable[] {
  const views = [{ prefix: `${root}/`, to: null }, ...seenAs.map((v) => ({ prefix: `${v}/`, to: `${root}/` }))];
  const out: OpenWritable[] = [];
  for (const pid of pids) {
    const dir = `/proc/${pid}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch {
      continue; // exited, or not ours to read
    }
    for (const fd of fds) {
      stats.fdsRead++;
      const file = writableUnder(`${dir}/${fd}`, views, stats);
      if (file !== null) out.push(file);
    }
  }
  return out;
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

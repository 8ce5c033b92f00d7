import { readdir } from 'node:fs/promises';

const ID = /^[0-9a-f]{32}$/;

/**
 * Instance ids that have a directory under `instances/` or a layer under `layers/` but
 * no snapshot entry: what an earlier agent left without writing it down (killed between
 * making a directory and its next snapshot), or before snapshots existed.
 */
export async function unexplainedInstanceDirs(dirs: readonly string[], explained: ReadonlySet<string>): Promise<string[]> {
  const found = new Set<string>();
  for (const dir of dirs) {
    for (const name of await readdir(dir).catch(() => [] as string[])) if (ID.test(name) && !explained.has(name)) found.add(name);
  }
  return [...found];
}

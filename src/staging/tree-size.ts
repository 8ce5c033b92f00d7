import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Bytes allocated to the files of a tree (st_blocks × 512, a hard-linked file once),
 * walked once: for a droplet's unpacked tree, which never changes, so the monitor can add
 * it to an instance's writable layer instead of walking it through the overlay view on
 * every pass. Entries that vanish meanwhile are skipped.
 */
export async function treeBytes(root: string): Promise<number> {
  await lstat(root); // a tree that is not there has no size (rather than 0)
  const seen = new Set<number>();
  let blocks = 0;
  const dirs = [root];
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    const st = await lstat(dir).catch(() => null);
    if (st === null) continue;
    blocks += st.blocks;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(dir, name);
      const e = await lstat(path).catch(() => null);
      if (e === null) continue;
      if (e.isDirectory()) dirs.push(path);
      else if (e.nlink === 1 || !seen.has(e.ino)) {
        if (e.nlink > 1) seen.add(e.ino);
        blocks += e.blocks;
      }
    }
  }
  return blocks * 512;
}

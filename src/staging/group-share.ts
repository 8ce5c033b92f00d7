import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Gives a droplet tree's group the owner's rights (u=rwx → g=rwx), directories and files
 * alike, links untouched. For the container backend: every instance runs as a uid of its
 * own but in the group that owns the shared, read-only droplet trees, so under overlayfs
 * it can change and add files in its own view as the tree's owner could (copy-up puts
 * every change in its own upper layer; the tree itself is never written). Runs once per
 * unpacked droplet.
 */
export async function shareWithGroup(root: string): Promise<void> {
  const queue = [root];
  while (queue.length > 0) {
    const dir = queue.pop()!;
    await giveGroupOwnerBits(dir);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) queue.push(path);
      else if (entry.isFile()) await giveGroupOwnerBits(path);
    }
  }
}

async function giveGroupOwnerBits(path: string): Promise<void> {
  const mode = (await lstat(path)).mode & 0o7777;
  const owner = (mode >> 6) & 0o7;
  const wanted = (mode & ~0o070) | (owner << 3);
  if (wanted !== mode) await chmod(path, wanted);
}

/**
 * Opens a resolved path without trusting that it is still what was resolved: the app may
 * swap a file or a parent directory for a link between our realpath and our open. The
 * last component is opened O_NOFOLLOW, and the opened descriptor's own path, read back
 * from /proc/self/fd, must still be inside the root.
 */
import { constants as fsc, type Stats } from 'node:fs';
import { open, readlink, type FileHandle } from 'node:fs/promises';
import { isInside } from './resolve.js';

export type Opened =
  | { readonly kind: 'ok'; readonly handle: FileHandle; readonly stat: Stats; readonly path: string }
  | { readonly kind: 'forbidden'; readonly why: string }
  | { readonly kind: 'missing' };

// O_NONBLOCK: a FIFO the app left must not hang the open; it is refused just after.
const FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

export async function openInside(root: string, target: string): Promise<Opened> {
  let handle: FileHandle;
  try {
    handle = await open(target, FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { kind: 'forbidden', why: 'became a symlink' };
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENXIO') return { kind: 'forbidden', why: code };
    throw err;
  }
  try {
    const path = await readlink(`/proc/self/fd/${handle.fd}`);
    if (!isInside(root, path)) return await refuse(handle, 'moved out of the instance directory');
    const stat = await handle.stat();
    if (!stat.isFile() && !stat.isDirectory()) return await refuse(handle, 'not a regular file or directory');
    return { kind: 'ok', handle, stat, path };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

async function refuse(handle: FileHandle, why: string): Promise<Opened> {
  await handle.close();
  return { kind: 'forbidden', why };
}

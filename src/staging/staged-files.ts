import { join } from 'node:path';
import { readDropletInfo } from './droplet-info.js';
import { makeOwnedDir } from './unpacked-dirs.js';

/** The directories the app writes to, made before it starts. */
export async function makeAppDirs(dir: string, user: { readonly uid: number; readonly gid: number } | null): Promise<void> {
  await makeOwnedDir(join(dir, 'logs'), user);
  await makeOwnedDir(join(dir, 'tmp'), user);
}

/** The lifecycle's StagedFiles port on the real file system. */
export const stagedFiles = {
  dropletInfo: readDropletInfo,
  makeAppDirs,
};

/**
 * The droplet deactl pushes: a `.tgz` as is, or a directory packed into one. Either must
 * unpack into something an agent can start (a `startup` script, or staging_info.yml with a
 * start command), so a broken droplet is refused here, before any agent sees it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import * as tar from 'tar';
import { fail } from './errors.js';

export interface Droplet {
  readonly path: string;
  readonly sha1: string;
  readonly size: number;
  /** Removes what packing made (nothing for a given .tgz). */
  dispose(): Promise<void>;
}

const START_FILES = new Set(['startup', 'staging_info.yml']);

async function sha1Of(file: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Top-level entry names of a gzipped tarball; throws when it is not one. */
async function topLevelNames(file: string): Promise<Set<string>> {
  const names = new Set<string>();
  await tar.t({
    file,
    strict: true,
    onReadEntry: (e) => {
      const parts = e.path.replace(/^\.\//, '').split('/');
      if (parts[0]) names.add(parts[0]);
    },
  });
  return names;
}

async function check(file: string, shown: string): Promise<void> {
  let names: Set<string>;
  try {
    names = await topLevelNames(file);
  } catch (err) {
    throw fail(`${shown} is not a gzipped tarball (${(err as Error).message}): pass a .tgz made with tar czf, or the app's directory`);
  }
  if (![...names].some((n) => START_FILES.has(n))) {
    throw fail(`${shown} has no startup script or staging_info.yml at its top level: an agent could not start it; add ./startup (it gets -p PORT)`);
  }
}

async function pack(dir: string): Promise<{ file: string; tmp: string }> {
  const tmp = await mkdtemp(join(tmpdir(), 'deactl-'));
  const file = join(tmp, `${basename(dir) || 'app'}.tgz`);
  // portable: no owner names or uids of this machine's users inside the droplet.
  await tar.c({ gzip: true, cwd: dir, portable: true, file }, ['.']);
  return { file, tmp };
}

export async function loadDroplet(arg: string): Promise<Droplet> {
  const path = resolve(arg);
  const st = await stat(path).catch(() => null);
  if (st === null) throw fail(`${arg}: no such file or directory: pass a .tgz droplet or an app directory`);
  let file = path;
  let tmp: string | null = null;
  if (st.isDirectory()) ({ file, tmp } = await pack(path));
  const dispose = async () => {
    if (tmp !== null) await rm(tmp, { recursive: true, force: true });
  };
  try {
    await check(file, arg);
    const [sha1, size] = await Promise.all([sha1Of(file), stat(file).then((s) => s.size)]);
    return { path: file, sha1, size, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

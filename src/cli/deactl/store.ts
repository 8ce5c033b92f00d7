/**
 * What deactl remembers of the apps it pushed, as CC kept apps in its database and
 * droplets in its blobstore: `scale` must start more instances of an app long after the
 * push that served its droplet has ended. One JSON file per app, one .tgz per SHA-1, under
 * $DEACTL_HOME (default ~/.local/state/deactl).
 */
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AppSpec } from '../../controller/start-message.js';

export interface AppRecord extends AppSpec {
  readonly instances: number;
}

export function storeDir(): string {
  const env = process.env.DEACTL_HOME;
  if (env) return env;
  return join(process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'deactl');
}

function appFile(appId: string): string {
  // App ids are free-form: the file name is their hex, never a path.
  return join(storeDir(), 'apps', `${Buffer.from(appId).toString('hex')}.json`);
}

export function dropletFile(sha1: string): string {
  return join(storeDir(), 'droplets', `${sha1}.tgz`);
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

export async function saveApp(record: AppRecord, dropletPath: string): Promise<void> {
  await mkdir(join(storeDir(), 'apps'), { recursive: true });
  await mkdir(join(storeDir(), 'droplets'), { recursive: true });
  const target = dropletFile(record.sha1);
  if (!(await stat(target).catch(() => null))) {
    await copyFile(dropletPath, `${target}.tmp`);
    await rename(`${target}.tmp`, target);
  }
  await writeAtomic(appFile(record.appId), `${JSON.stringify(record, null, 2)}\n`);
}

export async function loadApp(appId: string): Promise<AppRecord | null> {
  try {
    return JSON.parse(await readFile(appFile(appId), 'utf8')) as AppRecord;
  } catch {
    return null;
  }
}

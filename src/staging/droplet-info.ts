import { lstat, readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';
import yaml from 'js-yaml';

/** What the agent learns from an unpacked droplet before it starts it. */
export interface DropletInfo {
  /** `start_command` of staging_info.yml (v2 droplets). */
  readonly stagedStartCommand: string | null;
  /** Whether the v1 `startup` script is there. */
  readonly hasStartup: boolean;
  /** Whether the droplet has an `app/` directory (v2 layout). */
  readonly hasAppDir: boolean;
  /** droplet.yaml's `state_file`, relative to the instance directory. */
  readonly stateFile: string | null;
}

const MAX_META_BYTES = 64 * 1024;

export async function readDropletInfo(dir: string): Promise<DropletInfo> {
  const staging = await readYaml(join(dir, 'staging_info.yml'));
  const droplet = await readYaml(join(dir, 'droplet.yaml'));
  return {
    stagedStartCommand: stringField(staging, 'start_command'),
    hasStartup: (await kind(join(dir, 'startup'))) === 'file',
    hasAppDir: (await kind(join(dir, 'app'))) === 'dir',
    stateFile: safeRelative(stringField(droplet, 'state_file')),
  };
}

async function kind(path: string): Promise<'file' | 'dir' | 'other' | null> {
  try {
    const st = await lstat(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return null;
  }
}

/** Only a small regular file is read: never a link, a device or a huge file. */
async function readYaml(path: string): Promise<unknown> {
  try {
    const st = await lstat(path);
    if (!st.isFile() || st.size > MAX_META_BYTES) return null;
    return yaml.load(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
}

function stringField(doc: unknown, key: string): string | null {
  if (typeof doc !== 'object' || doc === null) return null;
  const v = (doc as Record<string, unknown>)[key];
  return typeof v === 'string' && v.trim().length > 0 ? v : null;
}

/** A path the droplet names must stay inside its directory. */
function safeRelative(p: string | null): string | null {
  if (p === null || isAbsolute(p)) return null;
  const n = normalize(p);
  return n.startsWith('..') || n.includes('\0') ? null : n;
}

import { mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stagedFiles } from '../../../src/staging/staged-files.js';
import { freshDir } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await freshDir());
});
afterEach(() => cleanup());

describe('stagedFiles.dropletInfo (real files)', () => {
  it('reads a v2 droplet: staged start command, app/ and the state file', async () => {
    await mkdir(path.join(root, 'app'));
    await writeFile(path.join(root, 'staging_info.yml'), 'detected_buildpack: node\nstart_command: npm start\n');
    await writeFile(path.join(root, 'droplet.yaml'), 'state_file: tmp/state.json\n');
    expect(await stagedFiles.dropletInfo(root)).toEqual({ stagedStartCommand: 'npm start', hasStartup: false, hasAppDir: true, stateFile: 'tmp/state.json' });
  });

  it('reads a v1 droplet: a startup script and nothing else', async () => {
    await writeFile(path.join(root, 'startup'), '#!/bin/sh\n', { mode: 0o755 });
    expect(await stagedFiles.dropletInfo(root)).toEqual({ stagedStartCommand: null, hasStartup: true, hasAppDir: false, stateFile: null });
  });

  it('ignores a state file outside the directory and metadata behind a link', async () => {
    await writeFile(path.join(root, 'droplet.yaml'), 'state_file: ../../etc/passwd\n');
    await writeFile(path.join(root, 'elsewhere.yml'), 'start_command: evil\n');
    await symlink(path.join(root, 'elsewhere.yml'), path.join(root, 'staging_info.yml'));
    expect(await stagedFiles.dropletInfo(root)).toMatchObject({ stagedStartCommand: null, stateFile: null });
  });
});

describe('stagedFiles.makeAppDirs (real files)', () => {
  it('makes logs/ and tmp/ private to the app', async () => {
    await stagedFiles.makeAppDirs(root, null);
    for (const name of ['logs', 'tmp']) {
      const st = await stat(path.join(root, name));
      expect(st.isDirectory(), name).toBe(true);
      expect(st.mode & 0o777, name).toBe(0o700);
    }
  });

  it('refuses a droplet whose logs is a link', async () => {
    await mkdir(path.join(root, 'elsewhere'));
    await symlink(path.join(root, 'elsewhere'), path.join(root, 'logs'));
    await expect(stagedFiles.makeAppDirs(root, null)).rejects.toThrow(/not a directory/);
  });
});

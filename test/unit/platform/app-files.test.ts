import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appFiles } from '../../../src/platform/app-files.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dea-app-files-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('appFiles.readStateFile (real files)', () => {
  it('reads the state file relative to the instance dir', async () => {
    await writeFile(join(dir, 'state.json'), '{"state":"RUNNING"}');
    expect(await appFiles.readStateFile(dir, 'state.json')).toBe('{"state":"RUNNING"}');
  });

  it('answers null while there is no file to read', async () => {
    expect(await appFiles.readStateFile(dir, 'state.json')).toBeNull();
    expect(await appFiles.readStateFile(dir, '.')).toBeNull();
  });
});

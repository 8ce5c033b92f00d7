/**
 * unpackDroplet as the test's own user: runs anywhere. Extraction as another user (which
 * needs root) is in test/integration/staging/unpack-as-user.test.ts.
 */
import { existsSync } from 'node:fs';
import { readFile, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import { tarArgs, unpackDroplet } from '../../../src/staging/unpack.js';
import { CORRUPT_FIXTURES, HOSTILE_FIXTURES, tgzBuffer, validDroplet } from '../../support/tarballs.js';
import { expectNothingOutside, freshDir, makeDir, token, writeTgz } from './helpers.js';

const NOBODY = 65534;

let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await freshDir());
});
afterEach(() => cleanup());

describe('unpackDroplet', () => {
  it('extracts files with their modes and symlinks', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', tgzBuffer([
      { type: 'dir', path: './' },
      { type: 'file', path: './startup', content: '#!/bin/bash\n', mode: 0o755 },
      { type: 'file', path: './app/server.js', content: 'hi', mode: 0o644 },
      { type: 'symlink', path: './app/link.js', target: 'server.js' },
    ]));
    const dest = await makeDir(root, 'instance');
    await unpackDroplet(tgz, dest);
    expect(await readFile(path.join(dest, 'app/server.js'), 'utf8')).toBe('hi');
    expect((await stat(path.join(dest, 'startup'))).mode & 0o777).toBe(0o755);
    expect(await readlink(path.join(dest, 'app/link.js'))).toBe('server.js');
  });

  it('refuses a destination that is not empty', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet());
    const dest = await makeDir(root, 'instance');
    await writeFile(path.join(dest, 'x'), 'x');
    await expect(unpackDroplet(tgz, dest)).rejects.toThrow(/not empty/);
  });

  it('refuses a uid without a gid', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet());
    await expect(unpackDroplet(tgz, await makeDir(root, 'i'), { uid: NOBODY })).rejects.toThrow(/together/);
  });

  it("maps tar's failure to DROPLET_CORRUPT with tar's stderr", async () => {
    const tgz = await writeTgz(root, 'bad.tgz', CORRUPT_FIXTURES['corrupt-gzip-truncated']());
    const err = await unpackDroplet(tgz, await makeDir(root, 'i')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_CORRUPT, exitDescription: 'failed to start' });
    expect((err as Error).message).toMatch(/tar exit 2\): .*(unexpected end of file|Unexpected EOF)/s);
  });

  it('rejects with the abort reason when cancelled', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet());
    const ac = new AbortController();
    ac.abort(new Error('instance stopped'));
    await expect(unpackDroplet(tgz, await makeDir(root, 'i'), { signal: ac.signal })).rejects.toThrow('instance stopped');
  });

  it('builds argv without -P, from fixed options only', () => {
    const args = tarArgs('d.tgz', '/x/instance');
    expect(args.slice(0, 4)).toEqual(['-xzf', path.resolve('d.tgz'), '-C', '/x/instance']);
    expect(args).not.toContain('-P');
    expect(args).not.toContain('--absolute-names');
    expect(args).toEqual(expect.arrayContaining(['--no-same-owner', '--no-same-permissions', '--delay-directory-restore', '--no-overwrite-dir']));
  });

  it('ignores TAR_OPTIONS in the agent environment', async () => {
    // An absolute path into the test's own directory: were it honoured, the file would
    // land there (and be removed with it), not in the instance directory.
    const outside = path.join(root, `abs-${token()}.txt`);
    const tgz = await writeTgz(root, 'abs.tgz', tgzBuffer([{ type: 'file', path: outside, content: 'pwned' }]));
    const saved = process.env.TAR_OPTIONS;
    process.env.TAR_OPTIONS = '--absolute-names';
    try {
      await unpackDroplet(tgz, await makeDir(root, 'i')).catch(() => undefined);
    } finally {
      if (saved === undefined) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = saved;
    }
    expect(existsSync(outside)).toBe(false);
  });

});

/**
 * The cache never stores a hostile droplet, so these never reach tar in the agent. Here
 * they are handed to GNU tar directly, as the test's own user, to show the second line of
 * defence: whatever tar does, nothing lands outside the destination. (The same as the
 * instance user, which needs root, is in test/integration/staging/unpack-as-user.test.ts.)
 */
describe('unpackDroplet without the scan (defence in depth): nothing is written outside', () => {
  for (const [name, build] of Object.entries(HOSTILE_FIXTURES)) {
    it(name, async () => {
      await expectNothingOutside(root, build, {});
    });
  }
});

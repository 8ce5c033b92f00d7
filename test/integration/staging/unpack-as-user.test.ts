/**
 * unpackDroplet as the instance user (nobody), which needs root: GNU tar then runs as that
 * user, so the files are its own and tar cannot write where it cannot. The rest of
 * unpackDroplet is unit-tested in test/unit/staging/unpack.test.ts.
 */
import { existsSync } from 'node:fs';
import { chmod, lstat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import { prepareInstanceDir, unpackDroplet } from '../../../src/staging/unpack.js';
import { HOSTILE_FIXTURES, validDroplet } from '../../support/tarballs.js';
import { expectNothingOutside, freshDir, makeDir, writeTgz } from '../../unit/staging/helpers.js';
import { isRoot, requireHost } from '../preconditions.js';

const NOBODY = 65534;
const AS_NOBODY = { uid: NOBODY, gid: NOBODY };

let root: string;
let cleanup: (() => Promise<void>) | undefined;

beforeEach(async () => {
  requireHost({ 'root (to run tar as another user)': isRoot() });
  ({ root, cleanup } = await freshDir());
});
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('unpackDroplet as the instance user', () => {
  it('runs as the given uid/gid: the files belong to the instance user', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet());
    const dest = await makeDir(root, 'instance');
    await unpackDroplet(tgz, dest, AS_NOBODY);
    for (const rel of ['', 'startup', 'app', 'app/server.js', 'app/.profile.d/setup.sh']) {
      const st = await lstat(path.join(dest, rel));
      expect({ rel, uid: st.uid, gid: st.gid }).toEqual({ rel, uid: NOBODY, gid: NOBODY });
    }
  });

  it('fails clearly (DROPLET_CORRUPT, tar says why) when the instance user cannot read the droplet', async () => {
    const privateDir = await makeDir(root, 'private');
    await chmod(privateDir, 0o700);
    const tgz = await writeTgz(privateDir, 'ok.tgz', validDroplet());
    const err = await unpackDroplet(tgz, await makeDir(root, 'i'), AS_NOBODY).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_CORRUPT });
    expect((err as Error).message).toMatch(/Permission denied/);
  });

  it('prepareInstanceDir unpacks a cached droplet', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet());
    const dest = await makeDir(root, 'i');
    await prepareInstanceDir({ sha1: 'a'.repeat(40), path: tgz }, dest, AS_NOBODY);
    expect(existsSync(path.join(dest, 'startup'))).toBe(true);
    expect((await lstat(path.join(dest, 'startup'))).uid).toBe(NOBODY);
  });
});

/** As in the unit test of the same name, with tar running as nobody. */
describe('unpackDroplet as nobody without the scan (defence in depth): nothing is written outside', () => {
  for (const [name, build] of Object.entries(HOSTILE_FIXTURES)) {
    it(name, async () => {
      await expectNothingOutside(root, build, AS_NOBODY);
    });
  }
});

import { existsSync } from 'node:fs';
import { chmod, lstat, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import { prepareInstanceDir, tarArgs, unpackDroplet } from '../../../src/staging/unpack.js';
import { CORRUPT_FIXTURES, HOSTILE_FIXTURES, tgzBuffer, validDroplet } from '../../support/tarballs.js';
import { freshDir, listRecursive, makeDir, token, writeTgz } from './helpers.js';

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

  it('runs as the given uid/gid: the files belong to the instance user', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet());
    const dest = await makeDir(root, 'instance');
    await unpackDroplet(tgz, dest, { uid: NOBODY, gid: NOBODY });
    for (const rel of ['', 'startup', 'app', 'app/server.js', 'app/.profile.d/setup.sh']) {
      const st = await lstat(path.join(dest, rel));
      expect({ rel, uid: st.uid, gid: st.gid }).toEqual({ rel, uid: NOBODY, gid: NOBODY });
    }
  });

  it('fails clearly (DROPLET_CORRUPT, tar says why) when the instance user cannot read the droplet', async () => {
    const privateDir = await makeDir(root, 'private');
    await chmod(privateDir, 0o700);
    const tgz = await writeTgz(privateDir, 'ok.tgz', validDroplet());
    const err = await unpackDroplet(tgz, await makeDir(root, 'i'), { uid: NOBODY, gid: NOBODY }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DROPLET_CORRUPT });
    expect((err as Error).message).toMatch(/Permission denied/);
  });

  it('without a uid, as root, keeps no archive owner and drops setuid/setgid bits', async () => {
    const tgz = await writeTgz(root, 'suid.tgz', tgzBuffer([{ type: 'file', path: 'suid', content: 'x', mode: 0o6755, uid: 0 }, { type: 'file', path: 'mine', content: 'x', uid: 4242 }]));
    const dest = await makeDir(root, 'instance');
    await unpackDroplet(tgz, dest);
    expect((await stat(path.join(dest, 'suid'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(dest, 'mine'))).uid).toBe(process.getuid?.());
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
    const t = token();
    const tgz = await writeTgz(root, 'abs.tgz', tgzBuffer([{ type: 'file', path: `/tmp/dea-abs-${t}.txt`, content: 'pwned' }]));
    const saved = process.env.TAR_OPTIONS;
    process.env.TAR_OPTIONS = '--absolute-names';
    try {
      await unpackDroplet(tgz, await makeDir(root, 'i')).catch(() => undefined);
    } finally {
      if (saved === undefined) delete process.env.TAR_OPTIONS;
      else process.env.TAR_OPTIONS = saved;
    }
    expect(existsSync(`/tmp/dea-abs-${t}.txt`)).toBe(false);
  });

  it('prepareInstanceDir unpacks a cached droplet', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet());
    const dest = await makeDir(root, 'i');
    await prepareInstanceDir({ sha1: 'a'.repeat(40), path: tgz }, dest, { uid: NOBODY, gid: NOBODY });
    expect(existsSync(path.join(dest, 'startup'))).toBe(true);
  });
});

/**
 * The cache never stores a hostile droplet, so these never reach tar in the agent. Here
 * they are handed to GNU tar directly, as root and as nobody, to show the second line
 * of defence: whatever tar does, nothing lands outside the destination.
 */
describe('unpackDroplet without the scan (defence in depth): nothing is written outside', () => {
  for (const [name, build] of Object.entries(HOSTILE_FIXTURES)) {
    for (const asNobody of [false, true]) {
      it(`${name} as ${asNobody ? 'nobody' : 'root'}`, async () => {
        const dest = await makeDir(root, 'dest');
        const outside = await makeDir(root, 'outside');
        await chmod(outside, 0o777); // writable by nobody too, so only tar's own rules stop it
        const victim = path.join(root, 'victim.txt');
        await writeFile(victim, 'original');
        const fixture = build({ dest, outside, victim, token: token() });
        const tgz = await writeTgz(root, 'hostile.tgz', tgzBuffer(fixture.entries));
        const hostnameBefore = await stat('/etc/hostname').catch(() => null);

        await unpackDroplet(tgz, dest, asNobody ? { uid: NOBODY, gid: NOBODY } : {}).catch(() => undefined);

        for (const p of fixture.mustNotExist) expect(existsSync(p), p).toBe(false);
        expect(await listRecursive(outside)).toEqual([]);
        expect(await readFile(victim, 'utf8')).toBe('original');
        expect((await stat(victim)).nlink).toBe(1);
        expect(await stat('/etc/hostname').catch(() => null)).toEqual(hostnameBefore);
        const siblings = (await listRecursive(root)).filter((p) => !p.startsWith('dest') && !p.startsWith('outside'));
        expect(siblings.sort()).toEqual(['hostile.tgz', 'victim.txt']);
      });
    }
  }
});

import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../../src/errors.js';
import { entrySegments, scanDroplet } from '../../../src/staging/scan.js';
import { CORRUPT_FIXTURES, HOSTILE_FIXTURES, tgzBuffer, validDroplet, type EntrySpec } from '../../support/tarballs.js';
import { freshDir, token, writeTgz } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await freshDir());
});
afterEach(() => cleanup());

async function scanEntries(entries: EntrySpec[]) {
  return scanDroplet(await writeTgz(root, `${token()}.tgz`, tgzBuffer(entries)));
}

describe('entrySegments', () => {
  it('strips ./ prefixes, empty and "." segments', () => {
    expect(entrySegments('./app/./lib//x.js')).toEqual(['app', 'lib', 'x.js']);
    expect(entrySegments('./')).toEqual([]);
    expect(entrySegments('.')).toEqual([]);
  });

  it('refuses absolute paths, ".." segments and control characters', () => {
    expect(() => entrySegments('/etc/passwd')).toThrow(/absolute/);
    expect(() => entrySegments('a/../../b')).toThrow(/\.\./);
    expect(() => entrySegments('a\nb')).toThrow(/control/);
  });
});

describe('scanDroplet: valid droplets', () => {
  it('counts entries and unpacked bytes', async () => {
    const tgz = await writeTgz(root, 'ok.tgz', validDroplet({ startup: { content: 'abc', mode: 0o755 }, 'app/x.js': 'hello' }));
    await expect(scanDroplet(tgz)).resolves.toEqual({ entries: 4, bytes: 8 }); // ./, startup, app/, app/x.js
  });

  it('accepts links that stay inside: node_modules/.bin style, dangling, chains, hardlinks', async () => {
    const result = await scanEntries([
      { type: 'dir', path: './' },
      { type: 'file', path: './app/node_modules/foo/cli.js', content: 'x', mode: 0o755 },
      { type: 'symlink', path: './app/node_modules/.bin/foo', target: '../foo/cli.js' },
      { type: 'symlink', path: 'app/logs', target: '../logs' }, // dangling until the agent makes logs/
      { type: 'symlink', path: 'app/cur', target: '.' },
      { type: 'symlink', path: 'app/via', target: 'cur/node_modules/../node_modules/foo' },
      { type: 'hardlink', path: './app/copy.js', target: './app/node_modules/foo/cli.js' },
      { type: 'hardlink', path: 'app/copy2.js', target: 'app/copy.js' },
    ]);
    expect(result.entries).toBe(8);
  });

  it('accepts names longer than the ustar fields (pax path and linkpath)', async () => {
    const deep = `app/${'d'.repeat(90)}/${'e'.repeat(90)}/file.txt`;
    await expect(
      scanEntries([
        { type: 'file', path: deep, content: 'x' },
        { type: 'symlink', path: `app/${'l'.repeat(120)}`, target: `${'d'.repeat(90)}/${'e'.repeat(90)}/file.txt` },
      ]),
    ).resolves.toEqual({ entries: 2, bytes: 1 });
  });
});

describe('scanDroplet: hostile droplets are refused (DROPLET_UNSAFE)', () => {
  for (const [name, build] of Object.entries(HOSTILE_FIXTURES)) {
    it(name, async () => {
      const ctx = { dest: path.join(root, 'dest'), outside: path.join(root, 'outside'), victim: path.join(root, 'victim.txt'), token: token() };
      const fixture = build(ctx);
      const err = await scanEntries(fixture.entries).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'AgentError', code: ErrorCodes.DROPLET_UNSAFE, exitDescription: 'failed to start' });
      expect((err as Error).message).toMatch(fixture.reason);
      expect((err as Error).message).toMatch(/entry "/);
    });
  }
});

describe('scanDroplet: corrupt droplets are refused (DROPLET_CORRUPT)', () => {
  for (const [name, build] of Object.entries(CORRUPT_FIXTURES)) {
    it(name, async () => {
      const tgz = await writeTgz(root, `${name}.tgz`, build());
      await expect(scanDroplet(tgz)).rejects.toMatchObject({ code: ErrorCodes.DROPLET_CORRUPT, exitDescription: 'failed to start' });
    });
  }

  it('a missing file is an error, not a hang', async () => {
    await expect(scanDroplet(path.join(root, 'nope.tgz'))).rejects.toThrow(/ENOENT/);
  });
});

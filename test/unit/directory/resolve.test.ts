/** Path resolution against a real directory tree with hostile links in it. */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInside, requestedSegments, resolveInside } from '../../../src/directory/resolve.js';
import { openInside } from '../../../src/directory/open.js';

let top: string;
let root: string;

beforeAll(() => {
  // top/
  //   secret.txt            outside the instance
  //   inst/                 the instance root
  //     logs/stdout.log
  //     app/link-in -> ../logs/stdout.log
  //     app/link-out -> ../../secret.txt
  //     app/abs-out -> /etc
  //     app/dangling-out -> /nonexistent-dea-test
  //     app/loop -> loop
  //     app/%2e%2e          a real file with a percent-encoded name
  //   inst-sibling/x.txt    shares the root's name as a prefix
  top = realpathSync(mkdtempSync(join(tmpdir(), 'dea-dir-resolve-')));
  root = join(top, 'inst');
  writeFileSync(join(top, 'secret.txt'), 'secret');
  mkdirSync(join(root, 'logs'), { recursive: true });
  mkdirSync(join(root, 'app'));
  mkdirSync(join(top, 'inst-sibling'));
  writeFileSync(join(top, 'inst-sibling', 'x.txt'), 'x');
  writeFileSync(join(root, 'logs', 'stdout.log'), 'hello\n');
  symlinkSync('../logs/stdout.log', join(root, 'app', 'link-in'));
  symlinkSync('../../secret.txt', join(root, 'app', 'link-out'));
  symlinkSync('/etc', join(root, 'app', 'abs-out'));
  symlinkSync('/nonexistent-dea-test', join(root, 'app', 'dangling-out'));
  symlinkSync('loop', join(root, 'app', 'loop'));
  symlinkSync('../../inst-sibling', join(root, 'app', 'sibling'));
});

afterAll(() => rmSync(top, { recursive: true, force: true }));

describe('requested path segments (pure)', () => {
  it('counts an absolute path from the instance root and drops empty and . segments', () => {
    expect(requestedSegments('/logs//./stdout.log')).toEqual({ ok: true, segments: ['logs', 'stdout.log'] });
    expect(requestedSegments('')).toEqual({ ok: true, segments: [] });
    expect(requestedSegments('/')).toEqual({ ok: true, segments: [] });
  });

  it('refuses .., encoded dots (once, twice), encoded slashes and NUL bytes', () => {
    for (const p of ['..', '/..', 'logs/../../x', 'a/..']) expect(requestedSegments(p)).toMatchObject({ ok: false, why: 'dot-dot' });
    for (const p of ['%2e%2e', '%2E%2e/x', 'logs/%252e%252e/x', '.%2e', '..%2fetc', 'a%2fb', '%2e', 'x%00y']) {
      expect(requestedSegments(p)).toMatchObject({ ok: false, why: 'encoded traversal' });
    }
    expect(requestedSegments('logs/\0/x')).toMatchObject({ ok: false, why: 'nul byte' });
  });

  it('keeps names that merely contain dots', () => {
    expect(requestedSegments('...').ok).toBe(true);
    expect(requestedSegments('a..b/.hidden').ok).toBe(true);
  });
});

describe('isInside', () => {
  it('compares whole path components', () => {
    expect(isInside('/a/inst', '/a/inst')).toBe(true);
    expect(isInside('/a/inst', '/a/inst/x')).toBe(true);
    expect(isInside('/a/inst', '/a/inst-sibling/x')).toBe(false);
    expect(isInside('/a/inst', '/a')).toBe(false);
  });
});

describe('resolveInside (real files)', () => {
  it('finds files and directories inside, through links that stay inside', async () => {
    expect(await resolveInside(root, '/logs/stdout.log')).toEqual({ kind: 'ok', root, target: join(root, 'logs', 'stdout.log') });
    expect(await resolveInside(root, 'app/link-in')).toEqual({ kind: 'ok', root, target: join(root, 'logs', 'stdout.log') });
    expect(await resolveInside(root, '/')).toEqual({ kind: 'ok', root, target: root });
  });

  it('serves an absolute path from the instance, never from the host', async () => {
    expect(await resolveInside(root, '/etc/passwd')).toEqual({ kind: 'missing' });
  });

  it('refuses traversal, encoded traversal and NUL before touching the disk', async () => {
    for (const p of ['../secret.txt', '/../secret.txt', 'logs/../../secret.txt', '%2e%2e/secret.txt', '%252e%252e/secret.txt', 'logs\0']) {
      expect((await resolveInside(root, p)).kind).toBe('forbidden');
    }
  });

  it('refuses links that lead out (relative, absolute, to a sibling with the same prefix, dangling, looping)', async () => {
    const paths = ['app/link-out', 'app/abs-out', 'app/abs-out/passwd', 'app/sibling/x.txt', 'app/dangling-out', 'app/dangling-out/x', 'app/loop'];
    // Beyond a link out, a missing path is refused as well: 404 would tell what exists outside.
    paths.push('app/abs-out/no-such-file-dea-test', 'app/sibling/none');
    for (const p of paths) {
      expect(await resolveInside(root, p), p).toMatchObject({ kind: 'forbidden' });
    }
  });

  it('says missing for a path that is not there, no-root when the instance has no directory', async () => {
    expect(await resolveInside(root, 'logs/nope.log')).toEqual({ kind: 'missing' });
    expect(await resolveInside(join(top, 'gone'), '/')).toEqual({ kind: 'no-root' });
  });
});

describe('openInside (real files)', () => {
  it('opens a resolved file, and refuses a path that became a link after resolving', async () => {
    const target = join(root, 'logs', 'swap.log');
    writeFileSync(target, 'x');
    const resolved = await resolveInside(root, 'logs/swap.log');
    expect(resolved.kind).toBe('ok');
    // The app swaps the file for a link out between our realpath and our open.
    rmSync(target);
    symlinkSync(join(top, 'secret.txt'), target);
    expect(await openInside(root, target)).toMatchObject({ kind: 'forbidden' });
  });

  it('refuses a path whose parent was swapped for a link out', async () => {
    mkdirSync(join(root, 'swapdir'));
    writeFileSync(join(root, 'swapdir', 'secret.txt'), 'mine');
    const resolved = await resolveInside(root, 'swapdir/secret.txt');
    expect(resolved.kind).toBe('ok');
    rmSync(join(root, 'swapdir'), { recursive: true });
    symlinkSync(top, join(root, 'swapdir'));
    expect(await openInside(root, join(root, 'swapdir', 'secret.txt'))).toMatchObject({ kind: 'forbidden' });
  });

  it('gives an open handle and its stat for a file inside', async () => {
    const o = await openInside(root, join(root, 'logs', 'stdout.log'));
    expect(o.kind).toBe('ok');
    if (o.kind === 'ok') {
      expect(o.stat.size).toBe(6);
      await o.handle.close();
    }
  });
});

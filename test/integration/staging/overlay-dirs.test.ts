/**
 * OverlayDirs on real overlayfs, as root: one unpacked tree per droplet below each
 * instance's own writable layer.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/platform/logger.js';
import { Layout } from '../../../src/staging/layout.js';
import { OverlayDirs, overlaySupported } from '../../../src/staging/overlay-dirs.js';
import { unmountAndRemove } from '../mounts.js';
import { isRoot, kernelHasFilesystem, requireHost } from '../preconditions.js';

const SHA = 'c'.repeat(40);
const A = '1'.repeat(32);
const B = '2'.repeat(32);

const roots: string[] = [];

beforeEach(() => requireHost({ 'root (to mount)': isRoot(), 'overlayfs in the kernel': kernelHasFilesystem('overlay') }));

afterEach(async () => {
  for (const root of roots.splice(0)) await unmountAndRemove(root);
});

async function setup() {
  const root = mkdtempSync(join(tmpdir(), 'dea-overlay-'));
  roots.push(root);
  const layout = new Layout(root);
  await layout.ensure();
  const unpacks: string[] = [];
  const dirs = new OverlayDirs({
    layout,
    user: { uid: 65534, gid: 65534 },
    logger: silentLogger(),
    unpack: async (_tgz, dest) => {
      unpacks.push(dest);
      writeFileSync(join(dest, 'startup'), 'original');
    },
  });
  return { layout, dirs, unpacks, droplet: { sha1: SHA, path: '/unused.tgz' } };
}

const mounted = async (dir: string) => (await readFile('/proc/self/mounts', 'utf8')).includes(` ${dir} overlay `);

describe('OverlayDirs (real overlayfs, as root)', () => {
  it('is supported on this host, and the probe leaves nothing behind', async () => {
    const { layout } = await setup();
    expect(await overlaySupported(layout, silentLogger())).toBe(true);
    expect(readdirSync(layout.tmp).filter((n) => n.startsWith('overlay-probe'))).toEqual([]);
  });

  it("unpacks a droplet once for all its instances, and keeps each one's writes to itself", async () => {
    const { layout, dirs, unpacks, droplet } = await setup();
    await Promise.all([dirs.create(droplet, A), dirs.create(droplet, B)]);
    expect(unpacks).toHaveLength(1);
    const a = layout.instanceDir(A);
    const b = layout.instanceDir(B);
    expect(await mounted(a)).toBe(true);
    writeFileSync(join(a, 'startup'), 'changed by A');
    writeFileSync(join(a, 'new.txt'), 'A only');
    expect(readFileSync(join(b, 'startup'), 'utf8')).toBe('original');
    expect(existsSync(join(b, 'new.txt'))).toBe(false);
    const tree = join(layout.droplets, SHA, 'lower', 'tree');
    expect(readFileSync(join(tree, 'startup'), 'utf8')).toBe('original');
    expect(await dirs.mountedDroplets()).toEqual(new Set([SHA]));
    await dirs.remove(A);
    await dirs.remove(B);
    expect(await dirs.mountedDroplets()).toEqual(new Set());
    expect(await mounted(a)).toBe(false);
    expect(existsSync(a)).toBe(false);
    expect(readdirSync(layout.layers)).toEqual([]);
  });

  it('keeps what a crashed instance wrote at crashes/<id>', async () => {
    const { layout, dirs, droplet } = await setup();
    await dirs.create(droplet, A);
    writeFileSync(join(layout.instanceDir(A), 'crash.log'), 'why');
    await dirs.retire(A);
    expect(await mounted(layout.instanceDir(A))).toBe(false);
    expect(readFileSync(join(layout.crashDir(A), 'crash.log'), 'utf8')).toBe('why');
    expect(existsSync(join(layout.crashDir(A), 'startup'))).toBe(false);
  });
});

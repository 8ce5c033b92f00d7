import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/platform/logger.js';
import { SparePool } from '../../../src/staging/spares.js';

const SHA = 'a'.repeat(40);

const bases: string[] = [];
afterEach(() => {
  for (const base of bases.splice(0)) rmSync(base, { recursive: true, force: true });
});

/** A pool in a fresh directory, removed after the test, pass or fail. */
function pool() {
  const base = mkdtempSync(join(tmpdir(), 'dea-spares-'));
  bases.push(base);
  const unpacks: string[] = [];
  mkdirSync(join(base, 'spares'));
  const spares = new SparePool({
    dir: join(base, 'spares'),
    user: null,
    logger: silentLogger(),
    unpack: async (tgz, dest) => {
      unpacks.push(dest);
      writeFileSync(join(dest, 'startup'), `from ${tgz}`);
    },
  });
  return { base, spares, unpacks };
}

describe('SparePool', () => {
  it('has nothing for a droplet the first time, then prepares one the next start takes by rename', async () => {
    const { base, spares, unpacks } = pool();
    await spares.init();
    const droplet = { sha1: SHA, path: '/cache/d.tgz' };
    expect(await spares.take(droplet, join(base, 'i1'))).toBe(false);
    await spares.idle();
    expect(unpacks).toHaveLength(1);
    expect(await spares.take(droplet, join(base, 'i2'))).toBe(true);
    expect(readFileSync(join(base, 'i2', 'startup'), 'utf8')).toBe('from /cache/d.tgz');
    await spares.idle();
    // the next spare is on its way
    expect(unpacks).toHaveLength(2);
    expect(await spares.take(droplet, join(base, 'i3'))).toBe(true);
  });

  it('drops a spare with its droplet', async () => {
    const { base, spares } = pool();
    await spares.init();
    const droplet = { sha1: SHA, path: '/cache/d.tgz' };
    await spares.take(droplet, join(base, 'i1'));
    await spares.idle();
    await spares.drop(SHA);
    expect(existsSync(join(base, 'spares', `spare-${SHA}`))).toBe(false);
    expect(await spares.take(droplet, join(base, 'i2'))).toBe(false);
  });

  it('never trusts spares left by an earlier agent', async () => {
    const { base, spares } = pool();
    mkdirSync(join(base, 'spares', `spare-${SHA}`), { recursive: true });
    writeFileSync(join(base, 'spares', 'other'), 'kept');
    await spares.init();
    expect(readdirSync(join(base, 'spares'))).toEqual(['other']);
    expect(await spares.take({ sha1: SHA, path: '/x' }, join(base, 'i1'))).toBe(false);
  });

  it('ignores a key that is not a SHA-1', async () => {
    const { base, spares, unpacks } = pool();
    await spares.init();
    expect(await spares.take({ sha1: '../evil', path: '/x' }, join(base, 'i1'))).toBe(false);
    await spares.idle();
    expect(unpacks).toEqual([]);
  });
});

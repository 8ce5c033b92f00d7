/**
 * A droplet the size of a real Node app (~19 MB, 3,000 sources, 25 blobs) goes through
 * fetch, SHA-1, scan and unpack as the instance user (nobody, so root is needed). How long
 * that takes is the benchmark's business (npm run bench: the agent's droplet download and
 * scan, and GNU tar on a droplet of the same size), not this test's.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { silentLogger } from '../../../src/platform/logger.js';
import { DropletCache } from '../../../src/staging/droplet-cache.js';
import { prepareInstanceDir } from '../../../src/staging/unpack.js';
import { largeDroplet } from '../../support/tarballs.js';
import { freshDir, makeDir, writeTgz } from '../../unit/staging/helpers.js';
import { isRoot, requireHost } from '../preconditions.js';

const NOBODY = 65534;

let root: string;
let cleanup: (() => Promise<void>) | undefined;

beforeEach(async () => {
  requireHost({ 'root (to unpack as nobody)': isRoot() });
  ({ root, cleanup } = await freshDir());
});
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

it('fetches, scans and unpacks a ~19 MB / 3,200-entry droplet as the instance user', async () => {
  const tgz = await writeTgz(root, 'big.tgz', largeDroplet());
  const cache = new DropletCache({ dropletsDir: path.join(root, 'droplets'), tmpDir: path.join(root, 'tmp'), logger: silentLogger() });
  const cached = await cache.fetch(null, pathToFileURL(tgz).href); // copy + SHA-1 + scan
  expect(cached.sha1).toMatch(/^[0-9a-f]{40}$/);

  const dest = await makeDir(root, 'instance');
  await prepareInstanceDir(cached, dest, { uid: NOBODY, gid: NOBODY });

  const paths = await readdir(dest, { recursive: true });
  expect(paths.length).toBeGreaterThan(3200);
  expect((await stat(path.join(dest, 'startup'))).uid).toBe(NOBODY);
  expect(await readFile(path.join(dest, 'startup'), 'utf8')).toMatch(/^#!/);
}, 120_000);

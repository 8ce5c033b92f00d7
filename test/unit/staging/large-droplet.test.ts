import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { silentLogger } from '../../../src/platform/logger.js';
import { DropletCache } from '../../../src/staging/droplet-cache.js';
import { prepareInstanceDir } from '../../../src/staging/unpack.js';
import { largeDroplet } from '../../support/tarballs.js';
import { freshDir, makeDir, writeTgz } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ root, cleanup } = await freshDir());
});
afterEach(() => cleanup());

/**
 * A droplet the size of a real Node app (performance A5: ~19 MB, 3,000 sources, 25 blobs)
 * goes through download, scan and unpack. The bounds are loose on purpose (a shared
 * two-core machine); the printed figures are what matters.
 */
it('fetches, scans and unpacks a ~19 MB / 3,200-entry droplet', async () => {
  const tgz = await writeTgz(root, 'big.tgz', largeDroplet());
  const cache = new DropletCache({ dropletsDir: path.join(root, 'droplets'), tmpDir: path.join(root, 'tmp'), logger: silentLogger() });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();

  let t = performance.now();
  const cached = await cache.fetch(null, pathToFileURL(tgz).href); // copy + SHA-1 + scan
  const fetchMs = performance.now() - t;

  const dest = await makeDir(root, 'instance');
  t = performance.now();
  await prepareInstanceDir(cached, dest, { uid: 65534, gid: 65534 });
  const unpackMs = performance.now() - t;
  loop.disable();

  const files = (await readdir(dest, { recursive: true })).length;
  console.log(`large droplet: fetch+scan ${fetchMs.toFixed(0)} ms, unpack ${unpackMs.toFixed(0)} ms, ` +
    `event-loop delay max ${(loop.max / 1e6).toFixed(1)} ms, ${files} paths`);
  expect(files).toBeGreaterThan(3200);
  expect(fetchMs).toBeLessThan(15_000);
  expect(unpackMs).toBeLessThan(15_000);
}, 60_000);

/** The shared set-up of the droplet cache tests: a fresh directory and server per test. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { silentLogger } from '../../../src/platform/logger.js';
import { DropletCache, type DropletCacheOptions } from '../../../src/staging/droplet-cache.js';
import { sha1Of, validDroplet } from '../../support/tarballs.js';
import { freshDir, startServer, type Route, type TestServer } from './helpers.js';

export const DROPLET = validDroplet();
export const SHA1 = sha1Of(DROPLET);

export interface CacheHarness {
  readonly root: string;
  readonly dropletsDir: string;
  readonly tmpDir: string;
  newCache(extra?: Partial<DropletCacheOptions>): DropletCache;
  serve(routes: Record<string, Route>): Promise<TestServer>;
  /** What is in tmpDir (nothing before the cache made it). */
  tempFiles(): Promise<string[]>;
  /** Nothing cached, nothing half-written. */
  expectNothingLeft(): Promise<void>;
}

/** Registers the per-test hooks of the calling test file. */
export function useCacheHarness(): CacheHarness {
  let root = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let server: TestServer | undefined;
  beforeEach(async () => {
    ({ root, cleanup } = await freshDir());
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await cleanup();
  });
  const h: CacheHarness = {
    get root() {
      return root;
    },
    get dropletsDir() {
      return path.join(root, 'droplets');
    },
    get tmpDir() {
      return path.join(root, 'tmp');
    },
    newCache: (extra = {}) => new DropletCache({ dropletsDir: h.dropletsDir, tmpDir: h.tmpDir, logger: silentLogger(), ...extra }),
    serve: async (routes) => (server = await startServer(routes)),
    tempFiles: () => readdir(h.tmpDir).catch(() => []),
    expectNothingLeft: async () => {
      expect(await readdir(h.dropletsDir)).toEqual([]);
      expect(await readdir(h.tmpDir)).toEqual([]);
    },
  };
  return h;
}

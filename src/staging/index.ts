export { DropletCache, type DropletCacheOptions, type DropletCacheStats } from './droplet-cache.js';
export type { CachedDroplet } from './droplet-store.js';
export { scrubUri } from './download-error.js';
export { isValidSha1 } from './sha1.js';
export { scanDroplet, entrySegments, type ScanResult } from './scan.js';
export { unpackDroplet, prepareInstanceDir, tarArgs, type UnpackOptions } from './unpack.js';

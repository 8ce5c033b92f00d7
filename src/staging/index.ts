export { DropletCache, isValidSha1, scrubUri, type CachedDroplet, type DropletCacheOptions, type DropletCacheStats } from './droplet-cache.js';
export { scanDroplet, entrySegments, type ScanResult } from './scan.js';
export { unpackDroplet, prepareInstanceDir, tarArgs, type UnpackOptions } from './unpack.js';

/**
 * The directory server as the composition root sees it: one secret made at boot (crypto
 * random, held only here, never logged), the routes to mount in the status server, and
 * the signed `file_uri_v2` for `dea.find.droplet` replies once the server listens.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../platform/logger.js';
import type { Layout } from '../staging/layout.js';
import { directoryRoutes, type DirectoryRoutes } from './routes.js';
import type { ServedInstance } from './roots.js';
import { createUrlSigner } from './signer.js';
import { serverBase, signedFileUri } from './urls.js';

const SECRET_BYTES = 64;

export interface Directory {
  routes(instances: { get(instanceId: string): ServedInstance | undefined }): DirectoryRoutes;
  /** The status server listens at `host:port` (host: the agent's local_ip). */
  listening(host: string, port: number): void;
  /** The signed URL of `path` in the instance's directory; null until the server listens. */
  fileUri(instanceId: string, path: string | null): string | null;
}

export function createDirectory(opts: { readonly now: () => number; readonly layout: Layout; readonly logger: Logger }): Directory {
  const signer = createUrlSigner({ secret: randomBytes(SECRET_BYTES), now: opts.now });
  let base: string | null = null;
  return {
    routes: (instances) => directoryRoutes({ signer, instances, layout: opts.layout, logger: opts.logger }),
    listening: (host, port) => {
      base = serverBase(host, port);
    },
    fileUri: (instanceId, path) => (base === null ? null : signedFileUri(signer, base, instanceId, path)),
  };
}

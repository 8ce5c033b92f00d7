/** `dea.update` (protocol §3.3): new routes, and maybe a new version, for an app. */
import { z } from 'zod';
import { DEA_UPDATE } from '../subjects.js';
import { decodeJson, validate } from './decode.js';
import { MAX_URI, appId, list, safeId, text } from './fields.js';

export interface UpdateRequest {
  readonly droplet: string;
  readonly uris: readonly string[];
  readonly version: string | null;
  /**
   * Whether the message had a `version` key. dea_ng compares versions by plain inequality,
   * so an update without one still clears the version and re-keys the instance.
   */
  readonly hasVersion: boolean;
}

const updateSchema = z.object({
  droplet: appId,
  uris: list(text(MAX_URI).min(1)),
  version: safeId.nullish(),
});

export function parseUpdate(raw: Uint8Array | string): UpdateRequest {
  const body = decodeJson(raw, DEA_UPDATE);
  const m = validate(updateSchema, body, DEA_UPDATE);
  return {
    droplet: m.droplet,
    uris: m.uris,
    version: m.version ?? null,
    hasVersion: Object.hasOwn(body as object, 'version'),
  };
}

/** `dea.find.droplet` (protocol §3.4): a stop-like filter plus what to put in each reply. */
import { z } from 'zod';
import { DEA_FIND_DROPLET } from '../subjects.js';
import { decodeJson, validate } from './decode.js';
import { text } from './fields.js';
import { filterShape, toFilter, type InstanceFilter } from './filter.js';

export interface FindRequest extends InstanceFilter {
  readonly includeStats: boolean;
  /** The request had a `path` key, even a null one: replies then carry `file_uri_v2`. */
  readonly hasPath: boolean;
  readonly path: string | null;
}

const findSchema = z.object({
  ...filterShape,
  include_stats: z.boolean().nullish(),
  path: text().nullish(),
});

export function parseFind(raw: Uint8Array | string): FindRequest {
  const body = decodeJson(raw, DEA_FIND_DROPLET);
  const m = validate(findSchema, body, DEA_FIND_DROPLET);
  return {
    ...toFilter(m),
    includeStats: m.include_stats ?? false,
    // validate() guarantees an object here; the key's presence is what counts.
    hasPath: Object.hasOwn(body as object, 'path'),
    path: m.path ?? null,
  };
}

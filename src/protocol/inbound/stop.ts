/** `dea.stop` (protocol §3.2): which instances of an app to stop. */
import { z } from 'zod';
import { DEA_STOP } from '../subjects.js';
import { decodeJson, validate } from './decode.js';
import { filterShape, toFilter, type InstanceFilter } from './filter.js';

export type StopRequest = InstanceFilter;

const stopSchema = z.object(filterShape).transform(toFilter);

export function parseStop(raw: Uint8Array | string): StopRequest {
  return validate(stopSchema, decodeJson(raw, DEA_STOP), DEA_STOP);
}

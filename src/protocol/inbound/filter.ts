/**
 * The instance filter shared by `dea.stop` and `dea.find.droplet` (protocol §3.2, §3.4):
 * every given criterion must hold; an absent (or null) criterion matches everything. A given
 * but empty list matches nothing, as in dea_ng (`nil` means no filter, `[]` an empty set):
 * a stop that names no instances must not stop them all.
 */
import { z } from 'zod';
import { INSTANCE_STATES, type InstanceState, type InstanceView } from '../../instance/types.js';
import { appId, indexNumber, list, safeId, text } from './fields.js';

export interface InstanceFilter {
  readonly droplet: string;
  readonly version?: string;
  /** `instances` and `instance_ids` together. */
  readonly instanceIds?: readonly string[];
  readonly indices?: readonly number[];
  readonly states?: readonly InstanceState[];
}

function isState(name: string): name is InstanceState {
  return (INSTANCE_STATES as readonly string[]).includes(name);
}

/** State names are upper-cased first, as dea_ng does; an unknown one fails the message. */
const stateName = text(64).transform((name, ctx): InstanceState => {
  const upper = name.toUpperCase();
  if (isState(upper)) return upper;
  ctx.addIssue({ code: 'custom', message: `unknown state "${upper}"` });
  return z.NEVER;
});

export const filterShape = {
  droplet: appId,
  version: safeId.nullish(),
  instances: list(text()).nullish(),
  instance_ids: list(text()).nullish(),
  indices: list(indexNumber).nullish(),
  states: list(stateName).nullish(),
};

type FilterFields = z.output<z.ZodObject<typeof filterShape>>;

/** Builds the filter; criteria that were absent or null are left out. */
export function toFilter(m: FilterFields): InstanceFilter {
  const filter: { -readonly [K in keyof InstanceFilter]: InstanceFilter[K] } = { droplet: m.droplet };
  if (m.instances != null || m.instance_ids != null) {
    filter.instanceIds = [...new Set([...(m.instances ?? []), ...(m.instance_ids ?? [])])];
  }
  if (m.version != null) filter.version = m.version;
  if (m.indices != null) filter.indices = m.indices;
  if (m.states != null) filter.states = m.states;
  return filter;
}

/**
 * Whether an instance passes the filter. The version compared is the instance's current
 * one (`dea.update` may have changed or cleared it), as dea_ng compares it.
 */
export function matchesFilter(filter: InstanceFilter, inst: InstanceView): boolean {
  if (inst.spec.applicationId !== filter.droplet) return false;
  if (filter.version !== undefined && inst.version !== filter.version) return false;
  if (filter.instanceIds && !filter.instanceIds.includes(inst.instanceId)) return false;
  if (filter.indices && !filter.indices.includes(inst.spec.instanceIndex)) return false;
  if (filter.states && !filter.states.includes(inst.state)) return false;
  return true;
}

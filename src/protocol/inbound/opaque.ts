/**
 * Values the agent passes through without interpreting them (service credentials,
 * `vcap_application`, `plan_option`). Their shape is the controller's business, but their
 * size is ours: they end up in an app's environment, so they get bounds too. Strings may be
 * longer than elsewhere because credentials routinely carry PEM certificate chains.
 */
import { z } from 'zod';
import { MAX_ITEMS } from './fields.js';

export const MAX_OPAQUE_STRING = 64 * 1024;
export const MAX_OPAQUE_DEPTH = 32;

type Path = (string | number)[];

interface Oversize {
  readonly path: Path;
  readonly message: string;
}

/** The first place where `value` breaks a bound, or null. Depth-capped, so never deep. */
function findOversize(value: unknown, path: Path, depth: number): Oversize | null {
  if (depth > MAX_OPAQUE_DEPTH) return { path, message: `nested deeper than ${MAX_OPAQUE_DEPTH} levels` };
  if (typeof value === 'string') {
    return value.length > MAX_OPAQUE_STRING ? { path, message: `longer than ${MAX_OPAQUE_STRING} characters` } : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i): [number, unknown] => [i, v])
    : Object.entries(value);
  if (entries.length > MAX_ITEMS) return { path, message: `more than ${MAX_ITEMS} entries` };
  for (const [key, child] of entries) {
    const found = findOversize(child, [...path, key], depth + 1);
    if (found) return found;
  }
  return null;
}

/** Any JSON value (required: a missing key is reported), within the opaque bounds. */
export const opaque = z.unknown().superRefine((value, ctx) => {
  const found = findOversize(value, [], 0);
  if (found) ctx.addIssue({ code: 'custom', path: found.path, message: found.message });
});

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A JSON object, returned as parsed: JSON.parse builds own properties even for a key named
 * `__proto__`, whereas copying key by key could assign a prototype.
 */
export const opaqueObject = opaque
  .refine(isPlainObject, { message: 'expected an object', abort: true })
  .transform((v) => v as Readonly<Record<string, unknown>>);

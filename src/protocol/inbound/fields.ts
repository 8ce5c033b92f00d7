/**
 * The building blocks the message schemas share: bounded strings and lists (absurd sizes
 * are refused before anything else looks at them), ids, and the "null means absent" rule
 * that Ruby-era senders rely on (`message["x"] || default`).
 */
import { z } from 'zod';

export const MAX_STRING = 4096;
export const MAX_ID = 255;
export const MAX_URI = 255;
export const MAX_ENV_ENTRY = 32 * 1024;
export const MAX_START_COMMAND = 64 * 1024;
export const MAX_ITEMS = 1000;

/** A string of at most `max` characters (MAX_STRING unless said otherwise). */
export function text(max: number = MAX_STRING) {
  return z.string().max(max);
}

/** A list of at most MAX_ITEMS entries. */
export function list<T extends z.ZodType>(item: T) {
  return z.array(item).max(MAX_ITEMS);
}

/** Optional field: absent or null yields `fallback`. */
export function withDefault<T extends z.ZodType, D extends z.output<T>>(schema: T, fallback: D) {
  return schema.nullish().transform((v): z.output<T> => v ?? fallback);
}

/**
 * App ids and versions never become paths, but anything that could (a `/`, NUL, `.` or
 * `..`) is refused anyway so no later change can turn them into a traversal.
 */
export const safeId = z
  .string()
  .min(1)
  .max(MAX_ID)
  .refine((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..', {
    message: 'must not contain "/" or NUL, nor be "." or ".."',
  });

/** The app id: v1 controllers sent an integer, which v1-late and v2 stringify. */
export const appId = z.preprocess((v) => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v), safeId);

/** A non-negative integer (instance indices). */
export const indexNumber = z.number().int().min(0);

/**
 * Schemas for the composite parts of a start message (protocol §5.1, §5.2): limits,
 * environment entries, service bindings and the droplet location.
 */
import { z } from 'zod';
import type { Limits, ServiceBinding } from '../../instance/types.js';
import { MAX_ENV_ENTRY, list, text } from './fields.js';
import { opaque } from './opaque.js';

/** v1 defaults, used when `limits` or one of its keys is absent (protocol §5.1: mem 512, disk 256, fds 1024). */
export const DEFAULT_LIMITS: Limits = { memMb: 512, diskMb: 256, fds: 1024 };

// Bounds that keep byte figures exact (MB × 2^20 stays a safe integer) and ulimit sane.
const MAX_MB = 2 ** 30;
const MAX_FDS = 2 ** 31 - 1;

const positive = (max: number) => z.number().int().positive().max(max).nullish();

export const limitsSchema = z
  .object({ mem: positive(MAX_MB), disk: positive(MAX_MB), fds: positive(MAX_FDS) })
  .nullish()
  .transform(
    (l): Limits => ({
      memMb: l?.mem ?? DEFAULT_LIMITS.memMb,
      diskMb: l?.disk ?? DEFAULT_LIMITS.diskMb,
      fds: l?.fds ?? DEFAULT_LIMITS.fds,
    }),
  );

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One `KEY=VALUE` entry, split on the first `=`. NUL cannot reach an environment. */
export const envEntry = text(MAX_ENV_ENTRY).transform((entry, ctx): readonly [string, string] => {
  const eq = entry.indexOf('=');
  const key = eq < 0 ? '' : entry.slice(0, eq);
  if (!ENV_KEY.test(key)) {
    ctx.addIssue({ code: 'custom', message: 'expected KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]*' });
    return z.NEVER;
  }
  if (entry.includes('\0')) {
    ctx.addIssue({ code: 'custom', message: 'must not contain NUL' });
    return z.NEVER;
  }
  return [key, entry.slice(eq + 1)];
});

/** A binding keeps the keys VCAP_SERVICES is built from; the rest are dropped. */
export const serviceSchema = z
  .object({
    name: text(),
    label: text(),
    credentials: opaque,
    tags: list(text()).nullish(),
    plan: text().nullish(),
    plan_option: opaque.optional(),
    syslog_drain_url: text().nullish(),
  })
  .transform((s): ServiceBinding => {
    const binding: { -readonly [K in keyof ServiceBinding]: ServiceBinding[K] } = {
      name: s.name,
      label: s.label,
      credentials: s.credentials,
    };
    if (s.tags != null) binding.tags = s.tags;
    if (s.plan != null) binding.plan = s.plan;
    if (s.plan_option !== undefined) binding.plan_option = s.plan_option;
    if (s.syslog_drain_url !== undefined) binding.syslog_drain_url = s.syslog_drain_url;
    return binding;
  });

const DROPLET_SCHEMES = new Set(['http:', 'https:', 'file:']);

function hasDropletScheme(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  return DROPLET_SCHEMES.has(new URL(uri).protocol);
}

export const dropletUri = text().refine(hasDropletScheme, { message: 'expected an http:, https: or file: URL' });

/** A SHA-1 is lower-cased so the droplet cache has one directory per droplet. */
export const sha1Schema = z
  .string()
  .regex(/^[0-9a-fA-F]{40}$/, { message: 'expected 40 hex characters' })
  .nullish()
  .transform((v) => v?.toLowerCase() ?? null);

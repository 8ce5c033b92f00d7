/**
 * What each field of an inbound message accepts, restated from the protocol (§3.2–§3.4,
 * §5.1) as plain predicates: the oracle the property tests hold the parsers to.
 * Written without src/protocol's schemas on purpose: a test that asked the parser's own
 * schemas would agree with every mistake in them.
 */
import { expect } from 'vitest';
import { MessageError } from '../../../src/errors.js';
import { INSTANCE_STATES } from '../../../src/instance/types.js';

type Accepts = (v: unknown) => boolean;

interface FieldRule {
  /** The key must be present and non-null. */
  readonly required?: true;
  /** Whether a present, non-null value is acceptable. */
  readonly accepts: Accepts;
}

/** Keys not listed are ignored by the parser, whatever they hold. */
export type MessageRules = Readonly<Record<string, FieldRule>>;

const MAX_STRING = 4096;
const MAX_ITEMS = 1000;

const str =
  (max = MAX_STRING, min = 0): Accepts =>
  (v) =>
    typeof v === 'string' && v.length >= min && v.length <= max;
const listOf =
  (item: Accepts): Accepts =>
  (v) =>
    Array.isArray(v) && v.length <= MAX_ITEMS && v.every(item);
const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Accepts =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const noNul = (v: unknown) => typeof v === 'string' && !v.includes('\0');

/** Ids never hold a path separator or NUL, nor are "." or "..". */
const safeId: Accepts = (v) => str(255, 1)(v) && noNul(v) && !(v as string).includes('/') && v !== '.' && v !== '..';
/** v1 controllers sent the app id as an integer. */
const appId: Accepts = (v) => safeId(typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v);

/** Passed-through JSON: at most 32 levels deep, 1,000 entries per level, 64 KiB strings. */
function opaque(v: unknown, depth = 0): boolean {
  if (depth > 32) return false;
  if (typeof v === 'string') return v.length <= 64 * 1024;
  if (typeof v !== 'object' || v === null) return true;
  const children = Object.values(v);
  return children.length <= MAX_ITEMS && children.every((c) => opaque(c, depth + 1));
}

/** Absent and null are the same: "not given". */
const optional = (accepts: Accepts): FieldRule => ({ accepts });
const required = (accepts: Accepts): FieldRule => ({ required: true, accepts });
const given = (v: unknown) => v !== undefined && v !== null;
const ifGiven =
  (accepts: Accepts): Accepts =>
  (v) =>
    !given(v) || accepts(v);

const dropletUri: Accepts = (v) =>
  str()(v) && URL.canParse(v as string) && ['http:', 'https:', 'file:'].includes(new URL(v as string).protocol);

const envEntry: Accepts = (v) => str(32 * 1024)(v) && noNul(v) && /^[A-Za-z_][A-Za-z0-9_]*=/.test(v as string);

const service: Accepts = (v) =>
  isObject(v) &&
  str()(v['name']) &&
  str()(v['label']) &&
  Object.hasOwn(v, 'credentials') &&
  opaque(v['credentials']) &&
  ifGiven(listOf(str()))(v['tags']) &&
  ifGiven(str())(v['plan']) &&
  opaque(v['plan_option']) &&
  ifGiven(str())(v['syslog_drain_url']);

const limits: Accepts = (v) =>
  isObject(v) && ifGiven(int(1, 2 ** 30))(v['mem']) && ifGiven(int(1, 2 ** 30))(v['disk']) && ifGiven(int(1, 2 ** 31 - 1))(v['fds']);

export const START_RULES: MessageRules = {
  droplet: required(appId),
  version: required(safeId),
  name: required(str()),
  index: required(int(0)),
  cc_partition: optional(str()),
  uris: optional(listOf(str(255, 1))),
  limits: optional(limits),
  sha1: optional((v) => typeof v === 'string' && /^[0-9a-fA-F]{40}$/.test(v)),
  executableUri: required(dropletUri),
  start_command: optional((v) => str(64 * 1024)(v) && noNul(v)),
  // Longer than this overflows Node's timer range.
  health_check_timeout: optional(int(1, Math.floor((2 ** 31 - 1) / 1000))),
  env: optional(listOf(envEntry)),
  services: optional(listOf(service)),
  vcap_application: optional((v) => isObject(v) && opaque(v)),
  stack: optional(str()),
};

/** State names count in any case. */
const stateName: Accepts = (v) => str(64)(v) && (INSTANCE_STATES as readonly string[]).includes((v as string).toUpperCase());

export const STOP_RULES: MessageRules = {
  droplet: required(appId),
  version: optional(safeId),
  instances: optional(listOf(str())),
  instance_ids: optional(listOf(str())),
  indices: optional(listOf(int(0))),
  states: optional(listOf(stateName)),
};

export const FIND_RULES: MessageRules = {
  ...STOP_RULES,
  include_stats: optional((v) => typeof v === 'boolean'),
  path: optional(str()),
};

export const UPDATE_RULES: MessageRules = {
  droplet: required(appId),
  uris: required(listOf(str(255, 1))),
  version: optional(safeId),
};

/**
 * The top-level keys a payload breaks the rules at ("message" when it is not a JSON object
 * at all), as the oracle sees it.
 */
export function brokenKeys(raw: string | Uint8Array, rules: MessageRules): string[] {
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    return ['message'];
  }
  if (!isObject(value)) return ['message'];
  const body = value;
  return Object.entries(rules)
    .filter(([key, rule]) => (given(body[key]) ? !rule.accepts(body[key]) : rule.required === true))
    .map(([key]) => key)
    .sort();
}

/**
 * The parser accepts `raw` exactly when the oracle finds nothing wrong; otherwise it throws
 * a MessageError (nothing else) whose problems name exactly the keys the oracle found wrong.
 */
export function expectVerdict(parse: (raw: string | Uint8Array) => unknown, raw: string | Uint8Array, rules: MessageRules): void {
  const broken = brokenKeys(raw, rules);
  let problems: readonly string[] | null = null;
  try {
    parse(raw);
  } catch (err) {
    if (!(err instanceof MessageError)) throw err;
    problems = err.problems;
  }
  const shown = typeof raw === 'string' ? raw : `bytes ${Buffer.from(raw).toString('hex')}`;
  if (broken.length === 0) {
    expect(problems, `refused ${shown}`).toBeNull();
    return;
  }
  expect(problems, `accepted ${shown}, whose ${broken.join(', ')} the protocol refuses`).not.toBeNull();
  const keys = [...new Set(problems!.map((p) => p.slice(0, p.search(/[.:]/))))].sort();
  expect(keys, shown).toEqual(broken);
}

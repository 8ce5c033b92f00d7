/**
 * The zod schema of the YAML config file (config/dea.yml documents every key). Keys are
 * snake_case as operators write them. Every section carries its own defaults and accepts
 * being absent (or empty), so a partial section keeps the defaults of the keys it leaves
 * out (a deep merge, unlike dea_ng's shallow one). Defaults that depend on the host
 * (local_ip, pid_filename, status credentials, instance.user) stay optional here and are
 * filled in by load.ts.
 *
 * Every leaf carries an `expected …` message; load.ts adds the key path and the offending
 * value (with credentials scrubbed).
 */
import { posix } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { bandwidthSection, networkSection } from './network-schema.js';

const expected = (what: string) => ({ error: `expected ${what}` });

interface NumberBounds {
  int?: boolean;
  gt?: number;
  min?: number;
  max?: number;
}

/** A number with one message for every way it can be wrong, so operators see the rule. */
function number(what: string, bounds: NumberBounds = {}) {
  const e = expected(what);
  let schema = z.number(e);
  if (bounds.int) schema = schema.int(e);
  if (bounds.gt !== undefined) schema = schema.gt(bounds.gt, e);
  if (bounds.min !== undefined) schema = schema.gte(bounds.min, e);
  if (bounds.max !== undefined) schema = schema.lte(bounds.max, e);
  return schema;
}

const positiveInt = () => number('a positive integer', { int: true, gt: 0 });
const positiveNumber = () => number('a positive number', { gt: 0 });
const nonNegativeNumber = () => number('a number >= 0', { min: 0 });
const port = () => number('a port number 0..65535', { int: true, min: 0, max: 65535 });

function text(what = 'a non-empty string') {
  const e = expected(what);
  return z.string(e).min(1, e);
}

function absolutePath() {
  const e = expected('an absolute path');
  return z.string(e).refine((p) => posix.isAbsolute(p), e);
}

/** `nats://[user[:pass]@]host:port` (or `tls://`). A user without password is a NATS token. */
export function isNatsUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') return false;
  if (url.hostname === '' || url.port === '') return false;
  if (url.password !== '' && url.username === '') return false;
  return (url.pathname === '' || url.pathname === '/') && url.search === '' && url.hash === '';
}

const natsUrl = () => {
  const e = expected('a URL like nats://host:port or tls://host:port (credentials optional)');
  return z.string(e).refine(isNatsUrl, e);
};

/** A status user ends up in HTTP basic auth, where a colon would split it. */
const basicAuthUser = () => text().refine((s) => !s.includes(':'), expected('a user name without ":"'));

/** A cgroup directory relative to each hierarchy's root; never allowed to climb out of it. */
const cgroupRoot = () =>
  text('a relative cgroup path').refine(
    (p) => !posix.isAbsolute(p) && !p.split('/').includes('..'),
    expected('a relative cgroup path without ".."'),
  );

/**
 * A mapping section. `instance:` with nothing under it parses as null in YAML; treat it as
 * absent so commenting out every key of a section does not become an error.
 */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  // Every key of a section has a default or is optional, so `{}` is valid input; the generic
  // shape hides that from the type checker.
  const inner = z.strictObject(shape, expected('a mapping')).prefault({} as never);
  return z.preprocess((v) => (v === null ? undefined : v), inner);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const logging = section({
  level: z.enum(LOG_LEVELS, expected(`one of ${LOG_LEVELS.join(', ')}`)).default('info'),
  /** null: log to stdout */
  file: text('a file path or null').nullable().default(null),
});

const status = section({
  host: text('a host name or IP address')
    .refine((s) => !/\s/.test(s), expected('a host name or IP address'))
    .default('0.0.0.0'),
  port: port().default(0),
  user: basicAuthUser().optional(),
  password: text().optional(),
});

const intervals = section({
  heartbeat: positiveNumber().default(10),
  advertise: positiveNumber().default(5),
  router_register_in_seconds: positiveNumber().default(20),
});

const resources = section({
  memory_mb: positiveInt().default(8192),
  memory_overcommit_factor: positiveNumber().default(1),
  disk_mb: positiveInt().default(16384),
  disk_overcommit_factor: positiveNumber().default(1),
  // Kept for the agent and the node's own daemons (elastic resources, docs/containers.md).
  reserved_memory_mb: number('an integer >= 0', { int: true, min: 0 }).default(256),
  reserved_cpu_shares: number('an integer 2..262144', { int: true, min: 2, max: 262_144 }).default(1024),
  // The node's rate that `instance.bandwidth.policy: shared` divides (bytes per second).
  bandwidth: number('a positive integer (bytes per second)', { int: true, min: 1, max: 2 ** 40 }).optional(),
});

const stack = z.strictObject({ name: text(), package_path: absolutePath() }, expected('a mapping'));

const stacks = z
  .array(stack, expected('a list of {name, package_path}'))
  .min(1, expected('at least one stack'))
  .superRefine((list, ctx) => {
    // zod may run this beside problems in the entries themselves, so entries may be junk.
    const seen = new Set<string>();
    (list as unknown[]).forEach((entry, i) => {
      const name = (entry as { name?: unknown } | null)?.name;
      if (typeof name !== 'string') return;
      if (seen.has(name)) {
        ctx.addIssue({ code: 'custom', message: 'expected a unique stack name', input: name, path: [i, 'name'] });
      }
      seen.add(name);
    });
  })
  .default([{ name: 'default', package_path: '/' }]);

const instance = section({
  memory_to_cpu_share_ratio: positiveNumber().default(8),
  min_cpu_share_limit: positiveInt().default(1),
  max_cpu_share_limit: positiveInt().default(256),
  disk_inode_limit: positiveInt().default(200000),
  nproc_limit: positiveInt().default(512),
  stop_grace_secs: nonNegativeNumber().default(10),
  user: text('a user name').optional(),
  log_max_bytes: number('an integer >= 4096', { int: true, min: 4096 }).default(10 * 1024 * 1024),
  elastic: section({ max_factor: number('a number >= 1', { min: 1 }).default(2) }),
  bandwidth: bandwidthSection,
}).superRefine(
  (inst, ctx) => {
    // Runs even when other instance keys are wrong (see `when`), so either limit may be junk.
    const { min_cpu_share_limit: min, max_cpu_share_limit: max } = inst as Record<string, unknown>;
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      ctx.addIssue({
        code: 'custom',
        message: `expected at most max_cpu_share_limit (${max})`,
        input: min,
        path: ['min_cpu_share_limit'],
      });
    }
  },
  // Report this together with the section's other problems rather than after they are fixed.
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
);

const container = section({
  cgroup_root: cgroupRoot().default('dea'),
  lxcfs_dir: absolutePath().default('/var/lib/lxcfs'),
  disk_limit: z.enum(['monitor', 'loop'], expected('one of monitor, loop')).default('monitor'),
  memory_policy: z.enum(['hard', 'elastic'], expected('one of hard, elastic')).default('hard'),
  network: networkSection,
});

const backend = section({
  kind: z.enum(['process', 'container', 'auto'], expected('one of process, container, auto')).default('auto'),
  container,
});

const monitor = section({
  interval_ms: positiveInt().default(2000),
  max_usage_samples: positiveInt().default(30),
});

export const configSchema = z.strictObject(
  {
    base_dir: absolutePath(),
    index: number('an integer >= 0', { int: true, min: 0 }).default(0),
    local_ip: z
      .string(expected('an IP address'))
      .refine((s) => isIP(s) !== 0, expected('an IP address'))
      .optional(),
    nats_servers: z.array(natsUrl(), expected('a list of NATS URLs')).min(1, expected('at least one NATS URL')),
    pid_filename: absolutePath().optional(),
    logging,
    status,
    intervals,
    resources,
    stacks,
    placement_properties: section({ zone: text().default('default') }),
    crash_lifetime_secs: nonNegativeNumber().default(3600),
    evacuation_bail_out_time_in_seconds: nonNegativeNumber().default(600),
    default_health_check_timeout: positiveNumber().default(60),
    instance,
    backend,
    monitor,
  },
  expected('a mapping of config keys'),
).superRefine((c, ctx) => {
  // Runs beside problems elsewhere, so either side may be junk.
  const shared = (c.instance as { bandwidth?: { policy?: unknown } } | undefined)?.bandwidth?.policy === 'shared';
  if (shared && (c.resources as { bandwidth?: unknown } | undefined)?.bandwidth === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected the node\'s rate (bytes per second) with instance.bandwidth.policy shared', input: undefined, path: ['resources', 'bandwidth'] });
  }
});

/** The config file as parsed: snake_case, static defaults filled, host defaults still open. */
export type RawConfig = z.output<typeof configSchema>;

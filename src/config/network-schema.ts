/**
 * Config keys of instance networks (docs/network.md): `backend.container.network` and
 * `instance.bandwidth`. Checks that need the host (pool overlaps, ephemeral ports,
 * capacity) are in network/config-checks.ts, run by load.ts after this schema.
 */
import { z } from 'zod';
import { parseCidr } from '../network/ipv4.js';

const expected = (what: string) => ({ error: `expected ${what}` });

function int(what: string, min: number, max: number) {
  const e = expected(what);
  return z.number(e).int(e).gte(min, e).lte(max, e);
}

const bool = () => z.boolean(expected('true or false'));

/** `a.b.c.d/n`, host bits zero (network/ipv4.ts is the one parser). */
const cidr = () => {
  const e = expected('an IPv4 CIDR like 10.254.0.0/22 (host bits zero)');
  return z.string(e).refine((v) => parseCidr(v) !== null, e);
};

/** Like schema.ts's sections: absent or null keeps every default; unknown keys are errors. */
function section<T extends z.core.$ZodLooseShape>(shape: T) {
  const inner = z.strictObject(shape, expected('a mapping')).prefault({} as never);
  return z.preprocess((v) => (v === null ? undefined : v), inner);
}

const whenMapping = { when: (p: { value: unknown }) => typeof p.value === 'object' && p.value !== null };

export const networkSection = section({
  enabled: bool().default(true),
  pool: cidr()
    .refine((v) => (parseCidr(v)?.prefix ?? 32) <= 30, expected('a pool of at least one /30 (prefix 30 or less)'))
    .default('10.254.0.0/22'),
  port_pool_start: int('a port number 1..65535', 1, 65535).default(61001),
  port_pool_size: int('a positive integer', 1, 65535).default(4534),
  app_port: int('a port number 1..65535', 1, 65535).default(8080),
  mtu: int('an MTU 576..65535', 576, 65535).default(1500),
  allow_host_access: bool().default(false),
  allow_networks: z.array(cidr(), expected('a list of CIDRs')).default([]),
  deny_networks: z.array(cidr(), expected('a list of CIDRs')).default([]),
}).superRefine((n, ctx) => {
  const { port_pool_start: start, port_pool_size: size } = n as Record<string, unknown>;
  if (typeof start === 'number' && typeof size === 'number' && start + size - 1 > 65535) {
    ctx.addIssue({ code: 'custom', message: 'expected port_pool_start + port_pool_size - 1 <= 65535', input: size, path: ['port_pool_size'] });
  }
}, whenMapping);

/** Unset: unshaped (`shaped`). `shared`: HTB classes that borrow, within resources.bandwidth. */
export const bandwidthSection = section({
  rate: int('a positive integer (bytes per second)', 1, 2 ** 40).optional(),
  burst: int('a positive integer (bytes)', 1, 2 ** 32).optional(),
  policy: z.enum(['shaped', 'shared'], expected('one of shaped, shared')).default('shaped'),
}).superRefine((b, ctx) => {
  const { rate, burst } = b as Record<string, unknown>;
  if (burst !== undefined && rate === undefined) ctx.addIssue({ code: 'custom', message: 'expected rate to be set with burst', input: burst, path: ['burst'] });
}, whenMapping);

/**
 * Network config checks that need the host (docs/network.md): the pool must not overlap a host
 * network, must hold a /30 for every instance the node can take, and the port pool must
 * stay out of the kernel's ephemeral range (a connection's local port could take a mapped
 * one). Pure: the host's facts come in as values. Problems carry their key path.
 */
import { networkOf, overlaps, parseCidr, parseIpv4 } from './ipv4.js';
import { subnetCount } from './subnet-pool.js';

/** The smallest instance capacity is planned for: one /30 and one port per this much memory. */
export const PLANNED_MB_PER_INSTANCE = 128;

export interface NetworkCheckInput {
  readonly pool: string;
  readonly portPoolStart: number;
  readonly portPoolSize: number;
  /** resources.memory_mb × memory_overcommit_factor */
  readonly capacityMb: number;
}

export interface HostNetworkFacts {
  readonly hostNetworks: readonly string[] | null;
  readonly ephemeral: readonly [number, number] | null;
}

const KEY = 'backend.container.network';

export function networkProblems(c: NetworkCheckInput, host: HostNetworkFacts): string[] {
  const problems: string[] = [];
  const pool = parseCidr(c.pool);
  if (pool === null) return problems; // the schema said so already
  for (const text of host.hostNetworks ?? []) {
    const [addr, bits] = text.split('/');
    const ip = parseIpv4(addr ?? '');
    if (ip === null) continue;
    const net = networkOf(ip, Number(bits ?? 32));
    if (overlaps(pool, net)) problems.push(`${KEY}.pool: expected a pool that overlaps no host network, got ${JSON.stringify(c.pool)} (overlaps ${text})`);
  }
  const needed = Math.ceil(c.capacityMb / PLANNED_MB_PER_INSTANCE);
  const subnets = subnetCount(pool);
  if (subnets < needed) {
    problems.push(`${KEY}.pool: expected room for ${needed} instances (one /30 per ${PLANNED_MB_PER_INSTANCE} MB of capacity), got ${JSON.stringify(c.pool)} (${subnets} /30s)`);
  }
  if (c.portPoolSize < needed) {
    problems.push(`${KEY}.port_pool_size: expected at least ${needed} ports (one per ${PLANNED_MB_PER_INSTANCE} MB of capacity), got ${c.portPoolSize}`);
  }
  const eph = host.ephemeral;
  const last = c.portPoolStart + c.portPoolSize - 1;
  if (eph !== null && c.portPoolStart <= eph[1] && eph[0] <= last) {
    problems.push(`${KEY}.port_pool_start: expected a port pool outside the kernel's ephemeral range ${eph[0]}-${eph[1]}, got ${c.portPoolStart}-${last}`);
  }
  return problems;
}

/** Instance links (dea<short id>-N) are the agent's own, never a host network to avoid. */
export function isInstanceLink(name: string): boolean {
  return /^dea[0-9a-f]{10}-\d$/.test(name);
}

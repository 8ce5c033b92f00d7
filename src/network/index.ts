import type { BandwidthConfig, NetworkConfig } from '../config/types.js';
import type { Logger } from '../platform/logger.js';
import { Claims } from './claims.js';
import { systemCommands, type NetCommands } from './commands.js';
import { InstanceNetworks } from './instance-network.js';
import { SharedBandwidth } from './shared-bandwidth.js';
import { parseCidr, type Cidr } from './ipv4.js';
import { agentTag, netNames, ownedId } from './names.js';
import { HostPortPool } from './port-pool.js';
import { SubnetPool } from './subnet-pool.js';

export { InstanceNetworks, type NetRecord } from './instance-network.js';
export { HostPortPool } from './port-pool.js';
export type { EgressRule, EgressRules } from './egress.js';

export interface NetworkSetup {
  readonly config: NetworkConfig;
  readonly bandwidth: BandwidthConfig | null;
  /** `bandwidth.policy: shared`: the node's rate and the memory guarantees divide it by (MB); then `bandwidth` is ignored. */
  readonly shared?: { readonly rate: number; readonly capacityMb: number } | null;
  /** The agent's local_ip: its host ports map to the apps. */
  readonly localIp: string;
  /** Names are tagged with it (agents side by side never touch each other's). */
  readonly baseDir: string;
  readonly logger: Logger;
  readonly commands?: NetCommands;
  readonly claims?: Claims;
  /** Networks kept made ahead (default READY_SLOTS); 0 makes each at its start. */
  readonly readySlots?: number;
}

/** Two: a burst of starts beyond them makes its own while the pool refills. */
export const READY_SLOTS = 2;

export interface Networks {
  readonly networks: InstanceNetworks;
  /** The lifecycle's host ports: the port pool, claimed host-wide. */
  readonly ports: HostPortPool;
}

/** Builds an agent's instance networks and port pool from its config, and prepares the host once. */
export async function createNetworks(s: NetworkSetup): Promise<Networks> {
  const c = s.config;
  const tag = agentTag(s.baseDir);
  const pool = cidr(c.pool);
  const claims = s.claims ?? new Claims();
  const commands = s.commands ?? systemCommands;
  const networks = new InstanceNetworks({
    tag,
    subnets: new SubnetPool(pool),
    claims,
    policy: { pool, allowNetworks: c.allowNetworks.map(cidr), denyNetworks: c.denyNetworks.map(cidr), allowHostAccess: c.allowHostAccess },
    mtu: c.mtu,
    appPort: c.appPort,
    mappedAddresses: [...new Set([s.localIp, '127.0.0.1'])],
    bandwidth: s.bandwidth === null || s.shared ? null : { rate: s.bandwidth.rate, burst: s.bandwidth.burst ?? defaultBurst(s.bandwidth.rate) },
    shared: s.shared ? new SharedBandwidth(tag, s.shared.rate, s.shared.capacityMb, commands, s.logger) : null,
    commands,
    logger: s.logger,
    netnsDir: '/run/netns',
    readySlots: s.readySlots ?? READY_SLOTS,
    portOwner: (id) => netNames(tag, id).netns,
  });
  await networks.init();
  const ports = new HostPortPool(claims, {
    start: c.portPoolStart,
    size: c.portPoolSize,
    ownerOf: (id) => netNames(tag, id).netns,
    owns: (owner) => ownedId(tag, owner) !== null,
  });
  return { networks, ports };
}

/** 10 ms at the rate: above one timer tick at HZ 100, small against a second's transfer. */
function defaultBurst(rate: number): number {
  return Math.ceil(rate / 100);
}

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (c === null) throw new Error(`not a CIDR: ${text}`); // the config schema refused it already
  return c;
}

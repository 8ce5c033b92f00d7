/**
 * `ip -batch` scripts for one instance's topology. Pure: names from names.ts, addresses
 * from subnet-pool.ts, numbers. Two batches because `ip -batch` has no per-line `-n`:
 * the host's side (namespace, veth pair, host end), then the namespace's side.
 */
import type { NetNames } from './names.js';
import { SUBNET_PREFIX, type Subnet } from './subnet-pool.js';

export interface Topology {
  readonly names: NetNames;
  readonly subnet: Subnet;
  readonly mtu: number;
}

/** Host side: the namespace, the pair (its container end born inside), the host end up. */
export function hostSideScript(t: Topology): string {
  const { names: n, subnet, mtu } = t;
  return [
    `netns add ${n.netns}`,
    `link add ${n.hostIf} mtu ${mtu} type veth peer name ${n.containerIf} mtu ${mtu} netns ${n.netns}`,
    `link set dev ${n.hostIf} alias ${n.alias}`,
    `addr add ${subnet.hostIp}/${SUBNET_PREFIX} dev ${n.hostIf}`,
    `link set dev ${n.hostIf} up`,
    '',
  ].join('\n');
}

/** Namespace side: lo, the container end addressed, the default route via the host end. */
export function containerSideScript(t: Topology): string {
  const { names: n, subnet } = t;
  return [
    'link set dev lo up',
    `addr add ${subnet.containerIp}/${SUBNET_PREFIX} dev ${n.containerIf}`,
    `link set dev ${n.containerIf} up`,
    `route add default via ${subnet.hostIp}`,
    '',
  ].join('\n');
}

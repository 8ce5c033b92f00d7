/**
 * The nft script of one instance: a table of its own, made and removed in one `nft -f`
 * transaction each (no half-made rule set is ever visible, and teardown cannot miss a
 * rule). Pure: every value in it is a number, an address formatted by ipv4.ts, or a name
 * from names.ts; nothing of a message's text.
 */
import type { EgressRule, PortRange } from './egress.js';
import { formatCidr, formatIpv4, type AddressRange, type Cidr } from './ipv4.js';
import { SHORT_ID_LENGTH, type NetNames } from './names.js';
import type { Subnet } from './subnet-pool.js';

export interface FirewallPolicy {
  /** The instance pool: other instances are reached only where allow_networks says. */
  readonly pool: Cidr;
  readonly allowNetworks: readonly Cidr[];
  readonly denyNetworks: readonly Cidr[];
  readonly allowHostAccess: boolean;
}

export interface InstanceFirewall {
  readonly names: NetNames;
  /** The instance the network serves (its names carry the network's own id: it was made ahead). */
  readonly instanceId: string;
  readonly subnet: Subnet;
  /** Addresses whose host port maps to the app: local_ip, and 127.0.0.1 for the host itself. */
  readonly mappedAddresses: readonly string[];
  readonly hostPort: number;
  readonly appPort: number;
  readonly egress: readonly EgressRule[];
  readonly policy: FirewallPolicy;
}

const REJECT = ['meta l4proto tcp reject with tcp reset', 'reject with icmp type admin-prohibited'];

export function instanceTableScript(f: InstanceFirewall): string {
  const { names, subnet } = f;
  const dnat = `tcp dport ${f.hostPort} dnat to ${subnet.containerIp}:${f.appPort}`;
  const addrs = `{ ${[...new Set(f.mappedAddresses)].join(', ')} }`;
  const chains: [string, string[]][] = [
    ['prerouting', ['type nat hook prerouting priority dstnat; policy accept;', `ip daddr ${addrs} ${dnat}`]],
    ['output', ['type nat hook output priority -100; policy accept;', `ip daddr ${addrs} ${dnat}`]],
    ['postrouting', [
      'type nat hook postrouting priority srcnat; policy accept;',
      // The host's own loopback traffic, sent to the container: it must be able to answer.
      `oif "${names.hostIf}" ip saddr 127.0.0.0/8 snat to ${subnet.hostIp}`,
      `ip saddr ${subnet.containerIp} ip daddr != ${formatCidr(f.policy.pool)} oif != "${names.hostIf}" masquerade`,
    ]],
    ['forward', ['type filter hook forward priority filter; policy accept;', `iif "${names.hostIf}" jump egress`]],
    ['input', ['type filter hook input priority filter; policy accept;', `iif "${names.hostIf}" jump host`]],
    ['host', ['ct state established,related accept', ...(f.policy.allowHostAccess ? ['accept'] : REJECT)]],
    ['egress', egressChain(f)],
  ];
  const body = chains.map(([name, lines]) => `  chain ${name} {\n${lines.map((l) => `    ${l}\n`).join('')}  }\n`).join('');
  // The instance id is checked hex (names.ts), safe inside quotes.
  return `table ip ${names.table} {\n  comment "instance ${f.instanceId}"\n${body}}\n`;
}

/** Replies first; then the operator's allow and deny networks (the pool itself denied: neighbours); then the app's rules; then reject. */
function egressChain(f: InstanceFirewall): string[] {
  const { policy } = f;
  const logged = f.egress.filter((r) => r.log);
  const plain = f.egress.filter((r) => !r.log);
  return [
    'ct state established,related accept',
    ...policy.allowNetworks.map((n) => `ip daddr ${formatCidr(n)} accept`),
    ...[...policy.denyNetworks, policy.pool].flatMap((n) => REJECT.map((r) => `ip daddr ${formatCidr(n)} ${r}`)),
    ...plain.map((r) => ruleLine(r, 'accept')),
    // As in dea_ng: rules with `log` come after the others.
    ...logged.map((r) => ruleLine(r, `log prefix "dea-${f.instanceId.slice(0, SHORT_ID_LENGTH)} " accept`)),
    ...REJECT,
  ];
}

export function ruleLine(r: EgressRule, verdict: string): string {
  const parts = [`ip daddr ${destination(r.destination)}`];
  if (r.protocol === 'tcp' || r.protocol === 'udp') {
    parts.push(r.ports.length === 0 ? `meta l4proto ${r.protocol}` : `${r.protocol} dport { ${r.ports.map(portText).join(', ')} }`);
  } else if (r.protocol === 'icmp') {
    parts.push(r.icmpType === null ? 'meta l4proto icmp' : `icmp type ${r.icmpType}`);
    if (r.icmpType !== null && r.icmpCode !== null) parts.push(`icmp code ${r.icmpCode}`);
  }
  return `${parts.join(' ')} ${verdict}`;
}

function portText(p: PortRange): string {
  return p.from === p.to ? String(p.from) : `${p.from}-${p.to}`;
}

/** A block as a CIDR, one address bare, anything else as a range. */
function destination(r: AddressRange): string {
  if (r.first === r.last) return formatIpv4(r.first);
  const size = r.last - r.first + 1;
  const prefix = 32 - Math.log2(size);
  if (Number.isInteger(prefix) && r.first % size === 0) return formatCidr({ ...r, prefix });
  return `${formatIpv4(r.first)}-${formatIpv4(r.last)}`;
}

/**
 * A network made ahead has its inside addressed already, so until its instance's rules
 * replace this table nothing may pass from it: everything arriving from its veth is
 * dropped. Links are matched by index (`iif`), not name: the veth is renamed for its
 * instance before the swap, and must stay closed meanwhile.
 */
export function closedTableScript(names: Pick<NetNames, 'table' | 'hostIf'>): string {
  const refuse = (hook: string) => `  chain ${hook} {
    type filter hook ${hook} priority filter; policy accept;
    iif "${names.hostIf}" drop
  }
`;
  return `table ip ${names.table} {
${refuse('forward')}${refuse('input')}}
`;
}

/** The closed table swapped for the instance's, in one transaction: never a moment without rules. */
export function replaceTableScript(names: Pick<NetNames, 'table'>, table: string): string {
  return `delete table ip ${names.table}
${table}`;
}

export function deleteTableScript(names: Pick<NetNames, 'table'>): string {
  return `delete table ip ${names.table}\n`;
}

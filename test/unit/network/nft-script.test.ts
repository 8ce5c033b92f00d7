import { describe, expect, it } from 'vitest';
import type { EgressRule } from '../../../src/network/egress.js';
import { parseCidr, parseRange } from '../../../src/network/ipv4.js';
import { netNames } from '../../../src/network/names.js';
import { closedTableScript, instanceTableScript, replaceTableScript, ruleLine } from '../../../src/network/nft-script.js';
import { subnetAt } from '../../../src/network/subnet-pool.js';

const ID = '0123456789abcdef0123456789abcdef';
const rule = (over: Partial<EgressRule>): EgressRule => ({
  protocol: 'tcp', destination: parseCidr('10.0.0.0/8')!, ports: [], icmpType: null, icmpCode: null, log: false, ...over,
});

describe('the instance nft table', () => {
  const script = instanceTableScript({
    names: netNames('aaaaaaaa', ID),
    instanceId: 'fedcba9876543210fedcba9876543210',
    subnet: subnetAt(parseCidr('10.254.0.4/30')!.first),
    mappedAddresses: ['127.0.0.1', '127.0.0.1'],
    hostPort: 61001,
    appPort: 8080,
    egress: [rule({ ports: [{ from: 443, to: 443 }] }), rule({ protocol: 'all', destination: parseCidr('192.0.2.9')!, log: true })],
    policy: { pool: parseCidr('10.254.0.0/22')!, allowNetworks: [parseCidr('10.1.0.0/16')!], denyNetworks: [parseCidr('10.2.0.0/16')!], allowHostAccess: false },
  });

  it('is one table named for the agent and instance, mapping the host port both for outside and the host itself', () => {
    expect(script.startsWith(`table ip dea_aaaaaaaa_${ID} {\n  comment "instance fedcba9876543210fedcba9876543210"\n`)).toBe(true);
    expect(script.match(/ip daddr \{ 127\.0\.0\.1 \} tcp dport 61001 dnat to 10\.254\.0\.6:8080/g)).toHaveLength(2);
    expect(script).toContain('oif "dea0123456789-0" ip saddr 127.0.0.0/8 snat to 10.254.0.5');
    expect(script).toContain('iif "dea0123456789-0" jump egress');
  });

  it('orders egress: replies, allow, deny and the pool, the rules, logged rules, reject', () => {
    const egress = script.slice(script.indexOf('chain egress'));
    const order = ['ct state established,related accept', 'ip daddr 10.1.0.0/16 accept', 'ip daddr 10.2.0.0/16 meta l4proto tcp reject', 'ip daddr 10.254.0.0/22 meta l4proto tcp reject',
      'ip daddr 10.0.0.0/8 tcp dport { 443 } accept', 'ip daddr 192.0.2.9 log prefix "dea-fedcba9876 " accept', 'reject with icmp type admin-prohibited'];
    // The final reject stands alone on its line (deny lines carry the same verdict after an address).
    const at = order.map((l, i) => (i === order.length - 1 ? egress.indexOf(`    ${l}\n`) : egress.indexOf(l)));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it('rejects traffic to the host unless allowed', () => {
    const host = script.slice(script.indexOf('chain host'), script.indexOf('chain egress'));
    expect(host).toContain('reject with tcp reset');
  });

  it('a closed table drops everything from the veth; the swap replaces it in one transaction', () => {
    const names = netNames('aaaaaaaa', ID);
    // By index: the link is renamed for its instance while this table still guards it.
    expect(closedTableScript(names)).toContain(`iif "${names.hostIf}" drop`);
    expect(replaceTableScript(names, 'table ip x {}\n')).toBe(`delete table ip ${names.table}\ntable ip x {}\n`);
  });

  it('renders ranges, port lists and icmp from numbers only', () => {
    expect(ruleLine(rule({ destination: parseRange('10.0.0.1-10.0.0.9')!, protocol: 'udp', ports: [{ from: 53, to: 53 }, { from: 1000, to: 2000 }] }), 'accept'))
      .toBe('ip daddr 10.0.0.1-10.0.0.9 udp dport { 53, 1000-2000 } accept');
    expect(ruleLine(rule({ protocol: 'icmp', icmpType: 8, icmpCode: 0 }), 'accept')).toBe('ip daddr 10.0.0.0/8 icmp type 8 icmp code 0 accept');
    expect(ruleLine(rule({ protocol: 'udp' }), 'accept')).toBe('ip daddr 10.0.0.0/8 meta l4proto udp accept');
    expect(ruleLine(rule({ destination: parseRange('10.0.0.0-10.0.0.255')! , protocol: 'all' }), 'accept')).toBe('ip daddr 10.0.0.0/24 accept');
  });
});

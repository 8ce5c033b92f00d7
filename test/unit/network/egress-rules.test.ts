import { describe, expect, it } from 'vitest';
import { parseEgressRules } from '../../../src/protocol/inbound/egress.js';
import { parseStart } from '../../../src/protocol/inbound/start.js';

describe('egress_network_rules (protocol §5.6)', () => {
  it('types valid rules: protocols, CIDRs and ranges, port lists, icmp, log', () => {
    const r = parseEgressRules([
      { protocol: 'tcp', destination: '10.0.0.0/8', ports: '80,443' },
      { protocol: 'udp', destination: '10.0.0.1-10.0.0.9', ports: '1000-2000' },
      { protocol: 'icmp', destination: '0.0.0.0/0', type: 8, code: 0, log: true },
      { protocol: 'all', destination: '192.0.2.1' },
    ]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.rules[0]?.ports).toEqual([{ from: 80, to: 80 }, { from: 443, to: 443 }]);
    expect(r.rules[1]?.destination).toEqual({ first: 0x0a000001, last: 0x0a000009 });
    expect(r.rules[2]).toMatchObject({ icmpType: 8, icmpCode: 0, log: true });
  });

  it.each([
    [{ protocol: 'sctp', destination: '10.0.0.0/8' }, 'rule 0: unknown protocol "sctp" (expected tcp, udp, icmp or all)'],
    [{ protocol: 'tcp', destination: '10.0.0.1/8' }, 'rule 0: malformed destination "10.0.0.1/8" (expected a CIDR or a.b.c.d-e.f.g.h)'],
    [{ protocol: 'tcp', destination: '10.0.0.0/8; flush ruleset' }, 'rule 0: malformed destination "10.0.0.0/8; flush ruleset" (expected a CIDR or a.b.c.d-e.f.g.h)'],
    [{ protocol: 'tcp', destination: '10.0.0.0/8', ports: '80-' }, 'rule 0: malformed ports "80-" (expected "80,443" or "1000-2000", tcp and udp only)'],
    [{ protocol: 'tcp', destination: '10.0.0.0/8', ports: '0' }, 'rule 0: malformed ports "0" (expected "80,443" or "1000-2000", tcp and udp only)'],
    [{ protocol: 'all', destination: '10.0.0.0/8', ports: '80' }, 'rule 0: malformed ports "80" (expected "80,443" or "1000-2000", tcp and udp only)'],
    [{ protocol: 'icmp', destination: '10.0.0.0/8', type: 300 }, 'rule 0: malformed icmp type or code (expected 0..255, icmp only)'],
    ['tcp', 'rule 0: expected an object'],
  ])('refuses %j', (rule, problem) => {
    expect(parseEgressRules([rule])).toEqual({ ok: false, problem });
  });

  it('reaches the start spec without making the message invalid', () => {
    const base = { droplet: 'a', version: 'v', name: 'n', index: 0, executableUri: 'http://x/d.tgz', sha1: null };
    expect(parseStart(JSON.stringify(base)).egress).toBeUndefined();
    const bad = parseStart(JSON.stringify({ ...base, egress_network_rules: [{ protocol: 'x', destination: '1.2.3.4' }] }));
    expect(bad.egress?.ok).toBe(false);
  });
});

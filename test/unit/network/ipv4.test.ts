import { describe, expect, it } from 'vitest';
import { formatIpv4, networkOf, overlaps, parseCidr, parseIpv4, parseRange } from '../../../src/network/ipv4.js';

describe('ipv4', () => {
  it('parses dotted quads and nothing else', () => {
    expect(parseIpv4('10.254.0.1')).toBe(0x0afe0001);
    expect(formatIpv4(0x0afe0001)).toBe('10.254.0.1');
    for (const bad of ['10.254.0', '256.0.0.1', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1.2.3.4.5', '']) expect(parseIpv4(bad)).toBeNull();
  });

  it('parses CIDRs with zero host bits; a bare address is a /32', () => {
    expect(parseCidr('10.254.0.0/22')).toEqual({ first: 0x0afe0000, last: 0x0afe03ff, prefix: 22 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ first: 0, last: 2 ** 32 - 1, prefix: 0 });
    expect(parseCidr('192.0.2.7')?.prefix).toBe(32);
    for (const bad of ['10.254.0.1/22', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/-1', '10.0.0.0/ 8']) expect(parseCidr(bad)).toBeNull();
  });

  it('parses ranges low to high', () => {
    expect(parseRange('10.0.0.1-10.0.0.9')).toEqual({ first: 0x0a000001, last: 0x0a000009 });
    expect(parseRange('10.0.0.9-10.0.0.1')).toBeNull();
    expect(parseRange('10.0.0.1-')).toBeNull();
  });

  it('tells overlaps and networks of interfaces', () => {
    const pool = parseCidr('10.254.0.0/22')!;
    expect(overlaps(pool, networkOf(parseIpv4('10.254.3.9')!, 24))).toBe(true);
    expect(overlaps(pool, networkOf(parseIpv4('10.254.4.1')!, 24))).toBe(false);
    expect(overlaps(pool, networkOf(parseIpv4('10.0.0.1')!, 8))).toBe(true);
  });
});

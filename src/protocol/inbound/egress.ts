/**
 * `egress_network_rules` of a start message (docs/network.md) → typed rules. A malformed
 * rule does not make the message invalid (it would be dropped unanswered): it makes the
 * start fail with the reason as its exit description, as dea_ng's did.
 */
import type { EgressProtocol, EgressRule, EgressRules, PortRange } from '../../network/egress.js';
import { parseCidr, parseRange, type AddressRange } from '../../network/ipv4.js';

const PROTOCOLS: readonly EgressProtocol[] = ['tcp', 'udp', 'icmp', 'all'];
/** More would only make an nft transaction slow; security groups are far smaller. */
const MAX_RULES = 1000;
const MAX_SHOWN = 40;

export function parseEgressRules(raw: unknown): EgressRules {
  if (raw === undefined || raw === null) return { ok: true, rules: [] };
  if (!Array.isArray(raw)) return { ok: false, problem: 'egress_network_rules: expected a list' };
  if (raw.length > MAX_RULES) return { ok: false, problem: `egress_network_rules: expected at most ${MAX_RULES} rules` };
  const rules: EgressRule[] = [];
  for (let i = 0; i < raw.length; i++) {
    const rule = parseRule(raw[i]);
    if (typeof rule === 'string') return { ok: false, problem: `rule ${i}: ${rule}` };
    rules.push(rule);
  }
  return { ok: true, rules };
}

/** A rule, or what is wrong with it. */
function parseRule(raw: unknown): EgressRule | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'expected an object';
  const r = raw as Record<string, unknown>;
  const protocol = typeof r.protocol === 'string' ? r.protocol.toLowerCase() : r.protocol;
  if (!PROTOCOLS.includes(protocol as EgressProtocol)) return `unknown protocol ${shown(r.protocol)} (expected tcp, udp, icmp or all)`;
  const destination = parseDestination(r.destination);
  if (destination === null) return `malformed destination ${shown(r.destination)} (expected a CIDR or a.b.c.d-e.f.g.h)`;
  const p = protocol as EgressProtocol;
  const ports = p === 'tcp' || p === 'udp' ? parsePorts(r.ports) : r.ports === undefined || r.ports === null ? [] : null;
  if (ports === null) return `malformed ports ${shown(r.ports)} (expected "80,443" or "1000-2000", tcp and udp only)`;
  const icmpType = icmpField(r.type, p);
  const icmpCode = icmpField(r.code, p);
  if (icmpType === undefined || icmpCode === undefined) return 'malformed icmp type or code (expected 0..255, icmp only)';
  if (r.log !== undefined && r.log !== null && typeof r.log !== 'boolean') return 'expected log to be true or false';
  return { protocol: p, destination, ports, icmpType, icmpCode, log: r.log === true };
}

function parseDestination(raw: unknown): AddressRange | null {
  if (typeof raw !== 'string') return null;
  return raw.includes('-') ? parseRange(raw) : parseCidr(raw);
}

/** "80,443", "1000-2000", a mix, or a number; absent: every port. */
function parsePorts(raw: unknown): PortRange[] | null {
  if (raw === undefined || raw === null) return [];
  if (typeof raw === 'number') raw = String(raw);
  if (typeof raw !== 'string' || raw.trim() === '') return null;
  const out: PortRange[] = [];
  for (const part of raw.split(',')) {
    const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(part);
    if (!m) return null;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from < 1 || to > 65535 || from > to) return null;
    out.push({ from, to });
  }
  return out;
}

/** An icmp type or code: null when absent; undefined when malformed or not icmp. */
function icmpField(raw: unknown, protocol: EgressProtocol): number | null | undefined {
  if (raw === undefined || raw === null) return null;
  if (protocol !== 'icmp' || typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 255) return undefined;
  return raw;
}

/** A value as the exit description may quote it: short, JSON-quoted. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text;
}

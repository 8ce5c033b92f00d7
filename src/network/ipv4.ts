/**
 * IPv4 arithmetic on plain numbers (unsigned 32-bit): parsing, CIDR blocks, ranges and
 * overlaps. Pure; everything network-shaped the agent accepts goes through here first, so
 * nothing unparsed ever reaches an `ip` or `nft` script.
 */

/** An inclusive range of addresses [first, last]. */
export interface AddressRange {
  readonly first: number;
  readonly last: number;
}

export interface Cidr extends AddressRange {
  readonly prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** `a.b.c.d` → its number, or null when it is not a dotted quad. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `a.b.c.d/n` (or a bare address, /32). Host bits must be zero: `10.0.0.1/8` is refused. */
export function parseCidr(text: string): Cidr | null {
  const [addr, bits, extra] = text.split('/');
  if (extra !== undefined || addr === undefined) return null;
  const base = parseIpv4(addr);
  if (base === null) return null;
  const prefix = bits === undefined ? 32 : /^(3[0-2]|[12]?\d)$/.test(bits) ? Number(bits) : -1;
  if (prefix < 0) return null;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return null;
  return { first: base, last: base + size - 1, prefix };
}

/** `a.b.c.d-e.f.g.h` with first ≤ last. */
export function parseRange(text: string): AddressRange | null {
  const [from, to, extra] = text.split('-');
  if (extra !== undefined || from === undefined || to === undefined) return null;
  const first = parseIpv4(from);
  const last = parseIpv4(to);
  if (first === null || last === null || first > last) return null;
  return { first, last };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.first)}/${c.prefix}`;
}

export function overlaps(a: AddressRange, b: AddressRange): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function contains(outer: AddressRange, addr: number): boolean {
  return addr >= outer.first && addr <= outer.last;
}

/** The block of `prefix` bits that holds `addr` (an interface's network). */
export function networkOf(addr: number, prefix: number): Cidr {
  const size = 2 ** (32 - prefix);
  const first = addr - (addr % size);
  return { first, last: first + size - 1, prefix };
}

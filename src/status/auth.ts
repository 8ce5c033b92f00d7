import { timingSafeEqual } from 'node:crypto';

/** HTTP Basic credentials check in constant time. */
export function basicAuthOk(header: string | undefined, user: string, password: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const given = Buffer.from(header.slice(6), 'base64');
  const expected = Buffer.from(`${user}:${password}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

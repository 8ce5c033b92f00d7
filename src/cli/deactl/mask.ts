/**
 * Hides secrets in bus traffic before deactl prints it: credential and password fields at
 * any depth (service bindings, component discovery), passwords in URLs, and the `hmac` of
 * signed directory URLs.
 */
const SECRET_KEYS = /^(credentials|password|pass|token|secret|hmac|private_instance_id)$/i;
export const MASK = '***';

export function maskText(s: string): string {
  return s.replace(/(\/\/[^:/@\s"]*:)[^@/\s"]+@/g, `$1${MASK}@`).replace(/([?&]hmac=)[0-9a-fA-F]+/g, `$1${MASK}`);
}

export function mask(value: unknown): unknown {
  if (typeof value === 'string') return maskText(value);
  if (Array.isArray(value)) return value.map(mask);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? MASK : mask(v);
  return out;
}

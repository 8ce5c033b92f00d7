/**
 * Signed directory-server URLs (protocol §11.5): HMAC-SHA512 over the resource path and a
 * canonical query of only `path` and `timestamp`, keyed with a secret the agent makes at
 * boot. Pure: the secret and the clock are given; nothing here logs or touches I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** dea_ng's validity: a URL handed out by `dea.find.droplet` works for one hour. */
export const URL_VALIDITY_MS = 3600 * 1000;
/** A timestamp this far ahead of our clock still passes (the clock may step back a little). */
const FUTURE_SKEW_MS = 60 * 1000;
const HMAC_HEX = /^[0-9a-f]{128}$/;
const TIMESTAMP = /^\d{1,12}$/;
const SIGNED_KEYS = ['hmac', 'path', 'timestamp'] as const;

export type Verdict = 'ok' | 'invalid' | 'expired';

export interface UrlSigner {
  /** The query string (`hmac=…&path=…&timestamp=…`, keys sorted) that signs `resource` + `path`. */
  sign(resource: string, path: string): string;
  /** `invalid`: no or wrong HMAC (401); `expired`: signed, but too old (400). */
  verify(resource: string, query: URLSearchParams): Verdict;
}

export interface SignerOptions {
  readonly secret: Uint8Array;
  /** Epoch milliseconds. */
  readonly now: () => number;
  readonly validityMs?: number;
}

/**
 * The signed text: `<resource>?path=<p>&timestamp=<t>`. Both values are percent-encoded the
 * one way (encodeURIComponent), so whatever encoding a client sends, the decoded values
 * give back the same text; extra query keys (`tail`, `tail_offset`) are not signed.
 */
function canonical(resource: string, path: string, timestamp: string): string {
  return `${resource}?path=${encodeURIComponent(path)}&timestamp=${encodeURIComponent(timestamp)}`;
}

export function createUrlSigner(opts: SignerOptions): UrlSigner {
  const secret = Buffer.from(opts.secret);
  if (secret.length < 32) throw new Error('directory URL secret too short');
  const validityMs = opts.validityMs ?? URL_VALIDITY_MS;
  const mac = (text: string) => createHmac('sha512', secret).update(text).digest('hex');
  return {
    sign(resource, path) {
      const timestamp = String(Math.floor(opts.now() / 1000));
      const hmac = mac(canonical(resource, path, timestamp));
      return `hmac=${hmac}&path=${encodeURIComponent(path)}&timestamp=${timestamp}`;
    },
    verify(resource, query) {
      // A second `path` after the signed one must not pass unnoticed: every signed key once.
      if (SIGNED_KEYS.some((k) => query.getAll(k).length !== 1)) return 'invalid';
      const given = query.get('hmac') ?? '';
      const path = query.get('path') ?? '';
      const timestamp = query.get('timestamp') ?? '';
      if (!HMAC_HEX.test(given) || !TIMESTAMP.test(timestamp)) return 'invalid';
      const expected = mac(canonical(resource, path, timestamp));
      // Both are 128 hex characters here, as timingSafeEqual requires.
      if (!timingSafeEqual(Buffer.from(given), Buffer.from(expected))) return 'invalid';
      const ageMs = opts.now() - Number(timestamp) * 1000;
      return ageMs > validityMs || ageMs < -FUTURE_SKEW_MS ? 'expired' : 'ok';
    },
  };
}

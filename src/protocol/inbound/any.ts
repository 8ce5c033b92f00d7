/**
 * Messages whose body the agent ignores (dea.status, dea.locate, router.start,
 * healthmanager.start, vcap.component.discover). Peers send them with an empty body as
 * often as with `{}`, so empty is fine; only non-empty garbage is reported.
 */
import { decodeJson, payloadText } from './decode.js';

/** The decoded body, or undefined for an empty (or all-whitespace) one. */
export function parseAny(raw: Uint8Array | string, subject: string = 'message'): unknown {
  if (raw.length === 0) return undefined;
  const text = payloadText(raw, subject);
  if (text.trim() === '') return undefined;
  return decodeJson(text, subject);
}

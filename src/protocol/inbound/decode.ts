/**
 * Turning raw bus payloads into validated values. Every failure becomes a MessageError
 * listing every problem as `dotted.path: what is wrong`; problems never quote the offending
 * value, because start messages carry credentials and environment secrets.
 */
import type { z } from 'zod';
import { MessageError } from '../../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Payload bytes (or text) to text; invalid UTF-8 is a malformed message, not a crash. */
export function payloadText(raw: Uint8Array | string, subject: string): string {
  if (typeof raw === 'string') return raw;
  try {
    return utf8.decode(raw);
  } catch {
    throw new MessageError(subject, ['message: not valid UTF-8']);
  }
}

/** Parses the payload as JSON, whatever its shape. */
export function decodeJson(raw: Uint8Array | string, subject: string): unknown {
  const text = payloadText(raw, subject);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new MessageError(subject, ['message: not valid JSON']);
  }
}

/** Validates an already decoded value against a schema, or throws with all its problems. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, subject: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new MessageError(subject, result.error.issues.map(describeIssue));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length === 0 ? 'message' : issue.path.map(String).join('.');
  // zod's wording for a missing key ("expected nonoptional, received undefined") is obscure.
  const missing = issue.code === 'invalid_type' && issue.message.endsWith('received undefined');
  return `${path}: ${missing ? 'is required' : issue.message}`;
}

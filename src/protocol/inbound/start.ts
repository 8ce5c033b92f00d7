/**
 * `dea.<id>.start` (protocol §5.1, §5.2) → StartSpec. Stricter than dea_ng
 * where the v1 defaults say so (limits may be absent), strict about types everywhere.
 */
import { z } from 'zod';
import type { StartSpec } from '../../instance/types.js';
import { decodeJson, validate } from './decode.js';
import { MAX_START_COMMAND, MAX_URI, appId, indexNumber, list, safeId, text, withDefault } from './fields.js';
import { opaqueObject } from './opaque.js';
import { parseEgressRules } from './egress.js';
import { dropletUri, envEntry, limitsSchema, serviceSchema, sha1Schema } from './start-parts.js';

// A health check longer than this overflows Node's timer range (2^31-1 ms).
const MAX_HEALTH_CHECK_SECS = Math.floor((2 ** 31 - 1) / 1000);

/** A route: non-empty, and short enough for any router. */
const uri = text(MAX_URI).min(1);

const startSchema = z
  .object({
    droplet: appId,
    version: safeId,
    name: text(),
    index: indexNumber,
    cc_partition: withDefault(text(), 'default'),
    uris: withDefault(list(uri), []),
    limits: limitsSchema,
    sha1: sha1Schema,
    executableUri: dropletUri,
    start_command: text(MAX_START_COMMAND)
      .refine((s) => !s.includes('\0'), { message: 'must not contain NUL' })
      .nullish(),
    health_check_timeout: z.number().int().positive().max(MAX_HEALTH_CHECK_SECS).nullish(),
    env: withDefault(list(envEntry), []),
    services: withDefault(list(serviceSchema), []),
    vcap_application: withDefault(opaqueObject, {}),
    stack: text().nullish(),
    // Checked rule by rule: a bad one fails the start (docs/network.md), not the message.
    egress_network_rules: z.unknown().optional(),
  })
  .transform(
    (m): StartSpec => ({
      applicationId: m.droplet,
      applicationVersion: m.version,
      applicationName: m.name,
      instanceIndex: m.index,
      ccPartition: m.cc_partition,
      uris: m.uris,
      stack: m.stack ?? null,
      dropletSha1: m.sha1,
      dropletUri: m.executableUri,
      // An empty command is no command: fall back to staging_info / startup.
      startCommand: m.start_command?.trim() ? m.start_command : null,
      healthCheckTimeoutSecs: m.health_check_timeout ?? null,
      limits: m.limits,
      environment: m.env,
      services: m.services,
      vcapApplication: m.vcap_application,
      // Only when sent, so a start without rules reads as before.
      ...(m.egress_network_rules === undefined ? {} : { egress: parseEgressRules(m.egress_network_rules) }),
    }),
  );

export const START_SUBJECT = 'dea.<id>.start';

/** Parses a directed start message; throws MessageError listing every problem. */
export function parseStart(raw: Uint8Array | string, subject: string = START_SUBJECT): StartSpec {
  return validate(startSchema, decodeJson(raw, subject), subject);
}

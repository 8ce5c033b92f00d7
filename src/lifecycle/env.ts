import type { InstanceView, ServiceBinding } from '../instance/types.js';
import { rubyTime } from '../protocol/index.js';

export interface EnvContext {
  readonly instance: InstanceView;
  /** The unpacked instance directory. */
  readonly dir: string;
  /** Where the app lives inside it: `<dir>/app` for v2 droplets, `<dir>` for v1. */
  readonly home: string;
  /** The host port (the router's and the health check's). */
  readonly port: number;
  /** The port the app listens on: the host port itself, or app_port in a network of its own. */
  readonly appPort?: number;
  readonly localIp: string;
  readonly startedAtMs: number;
}

type Pairs = [string, string][];

/**
 * The app's environment in export order (protocol §5.5): the system variables, then the
 * message's `env`, which may override them. Values are literal: nothing is expanded.
 */
export function buildEnvironment(ctx: EnvContext): Pairs {
  const { instance: inst, port, localIp } = ctx;
  const appPort = ctx.appPort ?? port;
  const env: Pairs = [
    ['VCAP_APPLICATION', JSON.stringify(vcapApplication(ctx))],
    ['VCAP_SERVICES', JSON.stringify(vcapServices(inst.spec.services))],
    ['MEMORY_LIMIT', `${inst.spec.limits.memMb}m`],
  ];
  if (inst.spec.services.length > 0) env.push(['DATABASE_URL', databaseUrl(inst.spec.services)]);
  env.push(
    ['HOME', ctx.home],
    ['TMPDIR', `${ctx.dir}/tmp`],
    ['VCAP_APP_HOST', '0.0.0.0'],
    ['VCAP_APP_PORT', String(appPort)],
    ['PORT', String(appPort)],
    ['CF_INSTANCE_INDEX', String(inst.spec.instanceIndex)],
    ['CF_INSTANCE_IP', localIp],
    ['CF_INSTANCE_PORT', String(port)],
    ['CF_INSTANCE_ADDR', `${localIp}:${port}`],
    ['CF_INSTANCE_PORTS', JSON.stringify([{ external: port, internal: appPort }])],
    ['CF_INSTANCE_GUID', inst.instanceId],
  );
  for (const [k, v] of inst.spec.environment) env.push([k, v]);
  return env;
}

function vcapApplication(ctx: EnvContext): Record<string, unknown> {
  const { spec } = ctx.instance;
  const seconds = Math.floor(ctx.startedAtMs / 1000);
  const started = rubyTime(ctx.startedAtMs);
  return {
    // What a v1-era controller did not send is filled from the start message itself.
    limits: { mem: spec.limits.memMb, disk: spec.limits.diskMb, fds: spec.limits.fds },
    application_name: spec.applicationName,
    application_uris: ctx.instance.uris,
    application_version: ctx.instance.version,
    name: spec.applicationName,
    uris: ctx.instance.uris,
    version: ctx.instance.version,
    users: null,
    ...spec.vcapApplication,
    application_id: spec.applicationId,
    instance_id: ctx.instance.instanceId,
    instance_index: spec.instanceIndex,
    host: '0.0.0.0',
    port: ctx.appPort ?? ctx.port,
    started_at: started,
    started_at_timestamp: seconds,
    start: started,
    state_timestamp: seconds,
  };
}

const SERVICE_KEYS = ['name', 'label', 'tags', 'plan', 'plan_option', 'credentials', 'syslog_drain_url'] as const;

function vcapServices(services: readonly ServiceBinding[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const s of services) {
    const entry: Record<string, unknown> = {};
    for (const k of SERVICE_KEYS) if (s[k] !== undefined && s[k] !== null) entry[k] = s[k];
    (out[s.label] ??= []).push(entry);
  }
  return out;
}

const DB_SCHEMES: Record<string, string> = {
  mysql: 'mysql2',
  mysql2: 'mysql2',
  postgres: 'postgres',
  postgresql: 'postgres',
  db2: 'ibmdb',
  informix: 'ibmdb',
};

/** The first relational binding's uri, with the scheme Ruby apps expect; else empty. */
function databaseUrl(services: readonly ServiceBinding[]): string {
  for (const s of services) {
    const uri = (s.credentials as { uri?: unknown } | null)?.uri;
    if (typeof uri !== 'string') continue;
    const m = /^([a-z0-9+.-]+):(.*)$/i.exec(uri);
    const scheme = m?.[1] ? DB_SCHEMES[m[1].toLowerCase()] : undefined;
    if (m && scheme) return `${scheme}:${m[2]}`;
  }
  return '';
}

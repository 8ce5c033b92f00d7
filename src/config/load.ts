/**
 * Loads the YAML config once, validates it against schema.ts and turns it into the frozen,
 * camelCase AgentConfig (types.ts). Every problem is collected and thrown together as one
 * ConfigError, each prefixed with its dotted key path; credentials never leave this module
 * inside an error message.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { posix } from 'node:path';
import { randomUUID } from 'node:crypto';
import yaml from 'js-yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { configSchema, type RawConfig } from './schema.js';
import { closestKey, keysAt } from './suggest.js';
import type { AgentConfig, HostFacts, NetworkConfig } from './types.js';
import { isInstanceLink, networkProblems } from '../network/config-checks.js';

/** Validates an already-parsed YAML document. Throws ConfigError listing every problem. */
export function parseConfig(raw: unknown, host: HostFacts): AgentConfig {
  // An empty file parses as null; validating `{}` then names the missing required keys.
  const result = configSchema.safeParse(raw ?? {}, { reportInput: true, error: fallbackMessage });
  if (!result.success) throw new ConfigError(result.error.issues.flatMap(describeIssue).map(scrubCredentials));
  const hostProblems = hostNetworkProblems(result.data, host);
  if (hostProblems.length > 0) throw new ConfigError(hostProblems);
  return deepFreeze(toAgentConfig(result.data, host));
}

/** Reads, parses and validates a config file; unreadable files and bad YAML are ConfigErrors. */
export function loadConfig(path: string, host: HostFacts = systemHostFacts): AgentConfig {
  return parseConfig(parseYaml(readConfigText(path), path), host);
}

/** The real host: first non-internal IPv4, users from /etc/passwd, random hex from crypto. */
export const systemHostFacts: HostFacts = {
  firstIpv4() {
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
    }
    return '127.0.0.1';
  },
  userExists(name) {
    return passwdUserNames().includes(name);
  },
  randomHex32: () => randomUUID().replaceAll('-', ''),
  hostNetworks() {
    return Object.entries(networkInterfaces()).flatMap(([name, addrs]) =>
      isInstanceLink(name) ? [] : (addrs ?? []).filter((a) => a.family === 'IPv4' && a.cidr !== null).map((a) => a.cidr as string),
    );
  },
  ephemeralPortRange() {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return [lo ?? 32768, hi ?? 60999] as const;
  },
};

/** Network keys checked against the host, only where instances get networks (a process-only agent has none). */
function hostNetworkProblems(c: RawConfig, host: HostFacts): string[] {
  const n = c.backend.container.network;
  if (c.backend.kind === 'process' || !n.enabled) return [];
  return networkProblems(
    {
      pool: n.pool,
      portPoolStart: n.port_pool_start,
      portPoolSize: n.port_pool_size,
      capacityMb: c.resources.memory_mb * c.resources.memory_overcommit_factor,
    },
    { hostNetworks: host.hostNetworks?.() ?? null, ephemeral: host.ephemeralPortRange?.() ?? null },
  );
}

function passwdUserNames(): string[] {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => line.split(':')[0] ?? '');
  } catch {
    return [];
  }
}

// ---- reading ---------------------------------------------------------------------------

const READ_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, not a file',
};

function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const why = READ_ERRORS[code] ?? (err instanceof Error ? err.message : String(err));
    throw new ConfigError([`${path}: cannot read config file: ${why}`]);
  }
}

function parseYaml(text: string, path: string): unknown {
  try {
    return yaml.load(text, { filename: path });
  } catch (err) {
    if (!(err instanceof yaml.YAMLException)) throw err;
    // reason + position only: js-yaml's full message quotes source lines, which may hold secrets.
    const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    throw new ConfigError([scrubCredentials(`${path}: YAML syntax error${where}: ${err.reason}`)]);
  }
}

// ---- problems --------------------------------------------------------------------------

/** Used only where a schema carries no message of its own. */
const fallbackMessage: z.core.$ZodErrorMap = (iss) =>
  iss.code === 'invalid_type' ? `expected ${iss.expected}` : 'invalid value';

function keyPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(configSchema, issue.path);
    return issue.keys.map((k) => `${keyPath([...issue.path, k])}: unknown key${didYouMean(k, known)}`);
  }
  const where = keyPath(issue.path);
  // A key absent from the input reaches zod as undefined; YAML itself cannot produce one.
  if (issue.code === 'invalid_type' && issue.input === undefined) return [`${where}: required`];
  const got = describeValue(issue.input);
  return [`${where}: ${issue.message}${got === undefined ? '' : `, got ${got}`}`];
}

function didYouMean(key: string, known: readonly string[]): string {
  const near = closestKey(key, known);
  return near === undefined ? '' : ` (did you mean ${near}?)`;
}

/** Scalars are echoed (scrubbed, truncated); mappings and lists are not. */
function describeValue(value: unknown): string | undefined {
  if (value instanceof Date) return 'a date (quote it to make it a string)';
  if (typeof value === 'string') {
    const shown = scrubValue(value);
    return JSON.stringify(shown.length > 80 ? `${shown.slice(0, 77)}...` : shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return undefined;
}

/** Everything up to the last `@` of a value is userinfo (passwords may contain `@`). */
function scrubValue(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? '';
  return `${scheme}***${value.slice(at)}`;
}

/** Last line of defence over whole messages: `scheme://user:pass@` and `user:pass@`. */
export function scrubCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s"'/]*@/gi, '$1***@').replace(/[^\s"'/@*]+:[^\s"'/@]*@/g, '***@');
}

// ---- mapping ---------------------------------------------------------------------------

/** Intervals are configured in seconds (dea_ng's keys) but every timer wants ms. */
const toMs = (seconds: number): number => Math.max(1, Math.round(seconds * 1000));

function toAgentConfig(c: RawConfig, host: HostFacts): AgentConfig {
  const baseDir = posix.resolve(c.base_dir);
  return {
    baseDir,
    index: c.index,
    localIp: c.local_ip ?? host.firstIpv4(),
    natsServers: [...c.nats_servers],
    pidFilename: c.pid_filename ?? posix.join(baseDir, 'dea.pid'),
    logging: { level: c.logging.level, file: c.logging.file },
    status: {
      host: c.status.host,
      port: c.status.port,
      user: c.status.user ?? host.randomHex32(),
      password: c.status.password ?? host.randomHex32(),
    },
    intervals: {
      heartbeatMs: toMs(c.intervals.heartbeat),
      advertiseMs: toMs(c.intervals.advertise),
      routerRegisterMs: toMs(c.intervals.router_register_in_seconds),
    },
    resources: {
      memoryMb: c.resources.memory_mb,
      memoryOvercommitFactor: c.resources.memory_overcommit_factor,
      diskMb: c.resources.disk_mb,
      diskOvercommitFactor: c.resources.disk_overcommit_factor,
      reservedMemoryMb: c.resources.reserved_memory_mb,
      reservedCpuShares: c.resources.reserved_cpu_shares,
      bandwidth: c.resources.bandwidth ?? null,
    },
    stacks: c.stacks.map((s) => ({ name: s.name, packagePath: s.package_path })),
    placementProperties: { zone: c.placement_properties.zone },
    crashLifetimeSecs: c.crash_lifetime_secs,
    evacuationBailOutTimeSecs: c.evacuation_bail_out_time_in_seconds,
    defaultHealthCheckTimeoutSecs: c.default_health_check_timeout,
    instance: toInstance(c.instance, host),
    backend: toBackend(c.backend),
    monitor: { intervalMs: c.monitor.interval_ms, maxUsageSamples: c.monitor.max_usage_samples },
  };
}

function toInstance(i: RawConfig['instance'], host: HostFacts): AgentConfig['instance'] {
  return {
    memoryToCpuShareRatio: i.memory_to_cpu_share_ratio,
    minCpuShareLimit: i.min_cpu_share_limit,
    maxCpuShareLimit: i.max_cpu_share_limit,
    diskInodeLimit: i.disk_inode_limit,
    nprocLimit: i.nproc_limit,
    stopGraceSecs: i.stop_grace_secs,
    user: i.user ?? (host.userExists('vcap') ? 'vcap' : 'nobody'),
    logMaxBytes: i.log_max_bytes,
    elasticMaxFactor: i.elastic.max_factor,
    bandwidth: i.bandwidth.rate === undefined ? null : { rate: i.bandwidth.rate, burst: i.bandwidth.burst ?? null },
    bandwidthPolicy: i.bandwidth.policy,
  };
}

function toBackend(b: RawConfig['backend']): AgentConfig['backend'] {
  const c = b.container;
  return {
    kind: b.kind,
    container: { cgroupRoot: c.cgroup_root, lxcfsDir: c.lxcfs_dir, diskLimit: c.disk_limit, memoryPolicy: c.memory_policy, network: toNetwork(c.network) },
  };
}

function toNetwork(n: RawConfig['backend']['container']['network']): NetworkConfig {
  return {
    enabled: n.enabled,
    pool: n.pool,
    portPoolStart: n.port_pool_start,
    portPoolSize: n.port_pool_size,
    appPort: n.app_port,
    mtu: n.mtu,
    allowHostAccess: n.allow_host_access,
    allowNetworks: [...n.allow_networks],
    denyNetworks: [...n.deny_networks],
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

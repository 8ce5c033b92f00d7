/**
 * The validated, frozen configuration (config/dea.yml documents each key). YAML keys are
 * snake_case; here they are camelCase with their units in the name. Each module receives
 * only its own slice.
 */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface StackConfig {
  readonly name: string;
  readonly packagePath: string;
}

export interface ResourcesConfig {
  readonly memoryMb: number;
  readonly memoryOvercommitFactor: number;
  readonly diskMb: number;
  readonly diskOvercommitFactor: number;
  readonly reservedMemoryMb: number;
  readonly reservedCpuShares: number;
  /** The node's rate (bytes/s) that shared bandwidth divides; null when unset. */
  readonly bandwidth: number | null;
}

export interface IntervalsConfig {
  readonly heartbeatMs: number;
  readonly advertiseMs: number;
  readonly routerRegisterMs: number;
}

export interface InstanceConfig {
  readonly memoryToCpuShareRatio: number;
  readonly minCpuShareLimit: number;
  readonly maxCpuShareLimit: number;
  readonly diskInodeLimit: number;
  readonly nprocLimit: number;
  readonly stopGraceSecs: number;
  /** Unprivileged user apps run as when the agent is root. */
  readonly user: string;
  readonly logMaxBytes: number;
  /** Elastic memory: an instance may grow to this multiple of its quota. */
  readonly elasticMaxFactor: number;
  /** `instance.bandwidth`: each container instance shaped both ways; null (or absent): unshaped. */
  readonly bandwidth?: BandwidthConfig | null;
  /** `shaped`: tbf per instance at `bandwidth.rate`; `shared`: HTB classes within resources.bandwidth. */
  readonly bandwidthPolicy?: 'shaped' | 'shared';
}

export interface BandwidthConfig {
  /** bytes per second */
  readonly rate: number;
  /** bytes; the rate's 1/250 s (one timer tick) at least, when unset */
  readonly burst: number | null;
}

/** `backend.container.network` (docs/network.md). */
export interface NetworkConfig {
  readonly enabled: boolean;
  /** CIDR: a /30 per instance */
  readonly pool: string;
  readonly portPoolStart: number;
  readonly portPoolSize: number;
  readonly appPort: number;
  readonly mtu: number;
  readonly allowHostAccess: boolean;
  readonly allowNetworks: readonly string[];
  readonly denyNetworks: readonly string[];
}

export interface StatusConfig {
  readonly host: string;
  /** 0: an ephemeral port */
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

export interface BackendConfig {
  readonly kind: 'process' | 'container' | 'auto';
  readonly container: {
    readonly cgroupRoot: string;
    readonly lxcfsDir: string;
    readonly diskLimit: 'monitor' | 'loop';
    /** `hard`: quota = hard limit (Warden); `elastic`: quota = guarantee (docs/containers.md). */
    readonly memoryPolicy: 'hard' | 'elastic';
    /** Absent where a config was built by hand (tests): no networks of their own. */
    readonly network?: NetworkConfig;
  };
}

export interface AgentConfig {
  readonly baseDir: string;
  readonly index: number;
  readonly localIp: string;
  readonly natsServers: readonly string[];
  readonly pidFilename: string;
  readonly logging: { readonly level: LogLevel; readonly file: string | null };
  readonly status: StatusConfig;
  readonly intervals: IntervalsConfig;
  readonly resources: ResourcesConfig;
  readonly stacks: readonly StackConfig[];
  readonly placementProperties: { readonly zone: string };
  readonly crashLifetimeSecs: number;
  readonly evacuationBailOutTimeSecs: number;
  readonly defaultHealthCheckTimeoutSecs: number;
  readonly instance: InstanceConfig;
  readonly backend: BackendConfig;
  readonly monitor: { readonly intervalMs: number; readonly maxUsageSamples: number };
}

/** Facts about the host that defaults depend on; injected so loading stays testable. */
export interface HostFacts {
  /** First non-internal IPv4 address, or 127.0.0.1. */
  firstIpv4(): string;
  userExists(name: string): boolean;
  randomHex32(): string;
  /** The host's IPv4 networks as CIDRs (instance links excluded); absent: not checked. */
  hostNetworks?(): string[];
  /** The kernel's ephemeral port range (ip_local_port_range); absent: not checked. */
  ephemeralPortRange?(): readonly [number, number];
}

/**
 * The data an instance is made of. Shared by the protocol module (which reads it to
 * build wire messages) and the instance module (which owns its state).
 */
import type { EgressRules } from '../network/egress.js';

export const INSTANCE_STATES = [
  'BORN',
  'STARTING',
  'RUNNING',
  'STOPPING',
  'STOPPED',
  'CRASHED',
  'RESUMING',
  'EVACUATING',
] as const;

export type InstanceState = (typeof INSTANCE_STATES)[number];

export interface Limits {
  readonly memMb: number;
  readonly diskMb: number;
  readonly fds: number;
}

export interface ServiceBinding {
  readonly name: string;
  readonly label: string;
  readonly credentials: unknown;
  readonly tags?: readonly string[];
  readonly plan?: string;
  readonly plan_option?: unknown;
  readonly syslog_drain_url?: string | null;
}

/** A start message after validation and translation (protocol §5.2). */
export interface StartSpec {
  readonly applicationId: string;
  readonly applicationVersion: string;
  readonly applicationName: string;
  readonly instanceIndex: number;
  readonly ccPartition: string;
  readonly uris: readonly string[];
  readonly stack: string | null;
  readonly dropletSha1: string | null;
  readonly dropletUri: string;
  readonly startCommand: string | null;
  readonly healthCheckTimeoutSecs: number | null;
  readonly limits: Limits;
  /** The message's `env` list as ordered KEY/VALUE pairs (split on the first `=`). */
  readonly environment: readonly (readonly [string, string])[];
  readonly services: readonly ServiceBinding[];
  readonly vcapApplication: Readonly<Record<string, unknown>>;
  /** `egress_network_rules` (docs/network.md): valid rules, or why one is not (the start then fails). */
  readonly egress?: EgressRules;
}

/** A container instance's own cgroup figures (Warden's `info` stats). */
export interface ContainerUsage {
  /** page cache charged to the group, bytes */
  readonly cacheBytes: number;
  /** anonymous memory (rss), bytes */
  readonly rssBytes: number;
  /** the group's total CPU time, ns */
  readonly cpuNs: number;
  /** processes in the group */
  readonly pids: number;
  /** processes the kernel's OOM killer killed in the group */
  readonly oomKills: number;
  /** bytes the instance received / sent over its own network, when it has one */
  readonly netRxBytes?: number;
  readonly netTxBytes?: number;
}

/** One monitor sample. */
export interface UsageSample {
  /** ms since the epoch */
  readonly time: number;
  /** fraction of one core over the last interval */
  readonly cpu: number;
  readonly memBytes: number;
  readonly diskBytes: number;
  /** The cgroup's own figures, for container instances. */
  readonly container?: ContainerUsage;
}

/** What the rest of the agent may read of an instance. */
export interface InstanceView {
  readonly instanceId: string;
  readonly privateInstanceId: string;
  readonly spec: StartSpec;
  readonly state: InstanceState;
  /** ms since the epoch at which `state` was entered */
  readonly stateTimestamp: number;
  /** ms since the epoch at which the instance entered STARTING, if it did */
  readonly startingTimestamp: number | null;
  readonly uris: readonly string[];
  readonly version: string | null;
  readonly hostPort: number | null;
  readonly exitStatus: number;
  readonly exitDescription: string;
  readonly crashTimestamp: number | null;
  readonly usage: UsageSample | null;
}

import type { Backend } from '../backends/types.js';
import type { InstanceConfig, StackConfig } from '../config/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { Layout } from '../staging/layout.js';
import type { Probe } from './health-check.js';

/** What the lifecycle needs from the droplet cache. */
export interface DropletSource {
  fetch(sha1: string | null, uri: string, signal?: AbortSignal): Promise<{ sha1: string; path: string }>;
}

export type { InstanceDirs } from '../staging/unpacked-dirs.js';
import type { InstanceDirs } from '../staging/unpacked-dirs.js';

export interface Ports {
  allocate(): Promise<number>;
  claim(port: number): void;
  release(port: number | null): void;
}

export interface LifecycleConfig {
  readonly localIp: string;
  readonly stacks: readonly StackConfig[];
  readonly defaultHealthCheckTimeoutSecs: number;
  readonly instance: InstanceConfig;
}

export interface LifecycleDeps {
  readonly config: LifecycleConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly layout: Layout;
  readonly droplets: DropletSource;
  /** Makes and removes instance directories from cached droplets. */
  readonly dirs: InstanceDirs;
  readonly backend: Backend;
  readonly ports: Ports;
  readonly probe: Probe;
  /** The user apps run as; null when the agent is not root. */
  readonly appUser: { readonly uid: number; readonly gid: number } | null;
}

import type { Backend } from '../backends/types.js';
import type { Instance } from '../instance/instance.js';
import type { InstanceConfig, StackConfig } from '../config/types.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../platform/logger.js';
import type { DropletInfo } from '../staging/droplet-info.js';
import type { Layout } from '../staging/layout.js';

/** Whether something accepts connections on host:port. */
export type Probe = (host: string, port: number) => Promise<boolean>;

/** What the lifecycle needs from the droplet cache. */
export interface DropletSource {
  fetch(sha1: string | null, uri: string, signal?: AbortSignal): Promise<{ sha1: string; path: string }>;
}

export type { InstanceDirs } from '../staging/unpacked-dirs.js';
import type { InstanceDirs } from '../staging/unpacked-dirs.js';

export interface Ports {
  /** A host port for the instance (a port pool claims it in the instance's name). */
  allocate(instanceId?: string): Promise<number>;
  claim(port: number): void;
  release(port: number | null): void;
}

export interface AppUser {
  readonly uid: number;
  readonly gid: number;
}

/** What prepare reads and makes in an unpacked instance directory. */
export interface StagedFiles {
  /** What the droplet says about itself: start command, layout, state file. */
  dropletInfo(dir: string): Promise<DropletInfo>;
  /** The app's `logs/` and `tmp/`, owned by `user`; refused if something else stands there. */
  makeAppDirs(dir: string, user: AppUser | null): Promise<void>;
}

export type LogName = 'stdout.log' | 'stderr.log';

/**
 * Files the app writes and the agent reads or caps. The app's user can swap a log for a
 * link at any time, so the log adapter decides on the file it actually opened.
 */
export interface AppFiles {
  /** The text of the droplet's state file (`path` relative to `dir`); null if unreadable. */
  readStateFile(dir: string, path: string): Promise<string | null>;
  /** Caps stdout/stderr at `maxBytes`; returns the names of the logs rotated. */
  rotateLogs(dir: string, maxBytes: number): string[];
  /** Appends an agent line to a log; false when the log could not be opened safely. */
  appendLog(dir: string, name: LogName, line: string): boolean;
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
  /**
   * Whether one of `pids` is what listens on `port` (the port is the host's, shared with
   * every other process): asked once a connect succeeds; absent, a connect is enough.
   */
  readonly listensOn?: (port: number, pids: readonly number[]) => boolean | Promise<boolean>;
  readonly stagedFiles: StagedFiles;
  readonly appFiles: AppFiles;
  /** The user apps run as; null when the agent is not root. */
  readonly appUser: AppUser | null;
  /** Told when an instance's process exists (its backend handle is known): the snapshot keeps it. */
  readonly launched?: (inst: Instance) => void;
}

import type { ContainerUsage } from '../instance/types.js';
import type { EgressRule } from '../network/egress.js';

/**
 * The backend port: how an instance's process is created, signalled, stopped and
 * recovered. A backend reports exits and usage; it never changes instance state or
 * publishes messages. One contract suite (test/contract) runs against every backend.
 */

export type StartMode = { readonly kind: 'v1' } | { readonly kind: 'v2'; readonly startCommand: string };

export interface LaunchSpec {
  readonly instanceId: string;
  /** The unpacked instance directory. */
  readonly dir: string;
  /** The stack's root filesystem, which the container backend shows the app as `/`. */
  readonly rootfs?: string;
  readonly mode: StartMode;
  /** The app's environment, in export order. */
  readonly env: readonly (readonly [string, string])[];
  readonly limits: {
    readonly memMb: number;
    readonly diskMb: number;
    readonly fds: number;
    readonly nproc: number;
    readonly cpuShares: number;
  };
  /** Whom the app runs as; null keeps the agent's own user. */
  readonly user: { readonly uid: number; readonly gid: number } | null;
  readonly stdoutPath: string;
  readonly stderrPath: string;
  /** Net-in and egress, for a backend that gives instances a network of their own (`appPort`). */
  readonly network?: {
    /** The host port mapped to the app's port. */
    readonly hostPort: number;
    readonly egress: readonly EgressRule[];
  };
}

export interface ExitInfo {
  /** The process's exit status; 128+N for signal N; -1 when it cannot be known. */
  readonly exitStatus: number;
  /** The signal that ended it, if one did. */
  readonly signal: string | null;
  /** A backend event that explains the exit (`out of memory`), if any. */
  readonly event: string | null;
}

/** What a backend needs to find an instance again after the agent restarts (JSON-safe). */
export type BackendHandle = Readonly<Record<string, string | number | null>>;

/** What an instance's processes use right now, as the backend measures it. */
export interface UsageReading {
  /** Cumulative CPU time of the instance's processes, in seconds. */
  readonly cpuSeconds: number;
  readonly memBytes: number;
  /** The processes it counted: the main one first. */
  readonly pids: readonly number[];
  /** The cgroup's own figures, where the instance has cgroups. */
  readonly container?: ContainerUsage;
}

export interface InstanceProcess {
  readonly handle: BackendHandle;
  /** Settles once, when the app's main process has ended. */
  readonly exited: Promise<ExitInfo>;
  /** The pids whose usage counts for the instance (main process and its descendants). */
  pids(): Promise<number[]>;
  /**
   * Whether the app has already ended, known without waiting (a recovered instance whose
   * supervisor recorded an exit while no agent ran); null while it runs.
   */
  exitedAlready?(): ExitInfo | null;
  /** A cheap synchronous reading for the monitor tick; null when nothing runs. */
  usage?(): UsageReading | null;
  /** TERM to every process of the instance, KILL after `graceMs`; resolves when all are gone. */
  stop(graceMs: number): Promise<ExitInfo>;
  /** Releases whatever the backend holds for the instance (idempotent). */
  destroy(): Promise<void>;
}

export interface Backend {
  readonly kind: 'process' | 'container' | 'fake';
  /**
   * Where the app sees its instance directory (the container backend: /home/vcap), or
   * null when it runs on the host and sees the real path. Paths in the app's
   * environment (HOME, TMPDIR) are built on it.
   */
  readonly instanceRoot: string | null;
  /**
   * The port the app listens on in a network of its own (the host port is mapped to it),
   * or null when the app shares the host's network and listens on the host port itself.
   */
  readonly appPort?: number | null;
  launch(spec: LaunchSpec): Promise<InstanceProcess>;
  /** Re-attaches to an instance launched by an earlier agent; null if it is gone. */
  recover(handle: BackendHandle): Promise<InstanceProcess | null>;
  /** At agent shutdown, after every instance was stopped: releases what the backend set up. */
  close?(): Promise<void>;
  /**
   * After adoption: releases what earlier agents left of instances that have ended and
   * that no adopted instance (`adopted`, by instance id) still uses.
   */
  sweep?(adopted: ReadonlySet<string>): Promise<void>;
  /**
   * Elastic memory (docs/containers.md): calls `onShort` whenever the instances' shared pool runs
   * short, so the agent can pick whom to kill. False when the backend has no such pool.
   */
  watchMemoryPool?(onShort: () => void): boolean;
}

/** Instance reports to the health manager and the controller (protocol §4.5, §4.6). */
import type { InstanceState, InstanceView } from '../../instance/types.js';
import { epochSeconds, wholeSeconds } from './time.js';

/** The version reported for an instance: its current one, else the one it started with. */
export function wireVersion(inst: InstanceView): string {
  return inst.version ?? inst.spec.applicationVersion;
}

/** The states HM9000 understands; the others are left out of heartbeats (§4.5). */
export const HEARTBEAT_STATES: readonly InstanceState[] = ['STARTING', 'RUNNING', 'CRASHED', 'EVACUATING'];

export interface HeartbeatEntry {
  cc_partition: string;
  droplet: string;
  version: string;
  instance: string;
  index: number;
  state: InstanceState;
  state_timestamp: number;
  /** Where the instance is reached (local_ip and its host port), when it has a port. */
  host?: string;
  port?: number;
}

export interface HeartbeatMessage {
  droplets: HeartbeatEntry[];
  dea: string;
}

function heartbeatEntry(inst: InstanceView, host: string | undefined): HeartbeatEntry {
  const at = host !== undefined && inst.hostPort !== null ? { host, port: inst.hostPort } : {};
  return {
    cc_partition: inst.spec.ccPartition,
    droplet: inst.spec.applicationId,
    version: wireVersion(inst),
    instance: inst.instanceId,
    index: inst.spec.instanceIndex,
    state: inst.state,
    state_timestamp: epochSeconds(inst.stateTimestamp),
    ...at,
  };
}

/**
 * The agent's complete state for HM9000; an empty list is still a heartbeat. With `host`
 * (local_ip) each instance with a port also says where it is reached (`host`, `port`:
 * the mapped host port of a container with a network of its own); HM9000 ignores fields
 * it does not know.
 */
export function heartbeat(deaId: string, instances: Iterable<InstanceView>, host?: string): HeartbeatMessage {
  const droplets = [...instances].filter((i) => HEARTBEAT_STATES.includes(i.state)).map((i) => heartbeatEntry(i, host));
  return { droplets, dea: deaId };
}

export type ExitReason = 'CRASHED' | 'STOPPED' | 'DEA_SHUTDOWN' | 'DEA_EVACUATION';

export interface DropletExitedMessage {
  cc_partition: string;
  droplet: string;
  version: string;
  instance: string;
  index: number;
  reason: ExitReason;
  exit_status: number;
  exit_description: string;
  crash_timestamp?: number;
}

export function dropletExited(inst: InstanceView, reason: ExitReason): DropletExitedMessage {
  const message: DropletExitedMessage = {
    cc_partition: inst.spec.ccPartition,
    droplet: inst.spec.applicationId,
    version: wireVersion(inst),
    instance: inst.instanceId,
    index: inst.spec.instanceIndex,
    reason,
    exit_status: inst.exitStatus,
    exit_description: inst.exitDescription,
  };
  // Only a crashed instance has a crash time worth reporting (§4.6).
  if (inst.state === 'CRASHED' && inst.crashTimestamp !== null) {
    message.crash_timestamp = wholeSeconds(inst.crashTimestamp);
  }
  return message;
}

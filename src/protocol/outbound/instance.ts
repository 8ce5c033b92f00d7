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
}

export interface HeartbeatMessage {
  droplets: HeartbeatEntry[];
  dea: string;
}

function heartbeatEntry(inst: InstanceView): HeartbeatEntry {
  return {
    cc_partition: inst.spec.ccPartition,
    droplet: inst.spec.applicationId,
    version: wireVersion(inst),
    instance: inst.instanceId,
    index: inst.spec.instanceIndex,
    state: inst.state,
    state_timestamp: epochSeconds(inst.stateTimestamp),
  };
}

/** The agent's complete state for HM9000; an empty list is still a heartbeat. */
export function heartbeat(deaId: string, instances: Iterable<InstanceView>): HeartbeatMessage {
  const droplets = [...instances].filter((i) => HEARTBEAT_STATES.includes(i.state)).map(heartbeatEntry);
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

import type { BackendHandle } from '../backends/types.js';
import type { Instance } from '../instance/instance.js';
import type { SnapshotEntry } from './format.js';

/** Every instance but the stopped ones (they leave the registry) goes in. */
export function entryOf(inst: Instance, backend: string | null, handle: BackendHandle | null): SnapshotEntry {
  return {
    instanceId: inst.instanceId,
    localId: inst.localId,
    privateInstanceId: inst.privateInstanceId,
    spec: inst.spec,
    state: inst.state,
    stateTimestamp: inst.stateTimestamp,
    startingTimestamp: inst.startingTimestamp,
    uris: inst.uris,
    version: inst.version,
    hostPort: inst.hostPort,
    dropletSha1: inst.dropletSha1,
    exitStatus: inst.exitStatus,
    exitDescription: inst.exitDescription,
    crashTimestamp: inst.crashTimestamp,
    backend: handle === null ? null : backend,
    handle,
  };
}

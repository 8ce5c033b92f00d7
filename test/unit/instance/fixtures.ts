/** Start specs and instances for the unit tests of the core. */
import { Instance, type TransitionListener } from '../../../src/instance/instance.js';
import type { InstanceState, StartSpec } from '../../../src/instance/types.js';

export const APP = 'a1b2c3d4-0000-4000-8000-000000000001';
export const VERSION = 'v-0001';

let seq = 0;

/** A fresh 32-hex instance id. */
export function hexId(): string {
  return (++seq).toString(16).padStart(32, '0');
}

export function startSpec(over: Partial<StartSpec> = {}): StartSpec {
  return {
    applicationId: APP,
    applicationVersion: VERSION,
    applicationName: 'web',
    instanceIndex: 0,
    ccPartition: 'default',
    uris: ['web.example.com'],
    stack: null,
    dropletSha1: null,
    dropletUri: 'file:///nonexistent/droplet.tgz',
    startCommand: null,
    healthCheckTimeoutSecs: null,
    limits: { memMb: 256, diskMb: 1024, fds: 1024 },
    environment: [],
    services: [],
    vcapApplication: {},
    ...over,
  };
}

export function newInstance(over: Partial<StartSpec> = {}, listeners: TransitionListener[] = []): Instance {
  return new Instance({ instanceId: hexId(), privateInstanceId: hexId() + hexId(), spec: startSpec(over), nowMs: 1_000 }, listeners);
}

/** The shortest legal path from BORN to each state (RESUMING only comes from a snapshot). */
const PATHS: Record<Exclude<InstanceState, 'RESUMING'>, InstanceState[]> = {
  BORN: [],
  STARTING: ['STARTING'],
  RUNNING: ['STARTING', 'RUNNING'],
  STOPPING: ['STARTING', 'STOPPING'],
  STOPPED: ['STOPPED'],
  CRASHED: ['STARTING', 'CRASHED'],
  EVACUATING: ['STARTING', 'RUNNING', 'EVACUATING'],
};

/** An instance brought to `state` through legal transitions. */
export function instanceIn(state: InstanceState, over: Partial<StartSpec> = {}): Instance {
  const inst = newInstance(over);
  if (state === 'RESUMING') {
    inst.state = 'RESUMING'; // as snapshot restore sets it
    return inst;
  }
  let t = 2_000;
  for (const s of PATHS[state]) inst.transition(s, (t += 1_000));
  return inst;
}

/**
 * The biggest messages an agent sends, built by the agent's own protocol module from
 * realistic values: a heartbeat and an advertisement for an agent with N instances of
 * distinct apps, and one route registration.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { advertise, heartbeat } from '../../src/protocol/index.js';
import type { InstanceView } from '../../src/instance/types.js';

function fakeInstance(i: number): InstanceView {
  return {
    instanceId: randomBytes(16).toString('hex'),
    privateInstanceId: randomBytes(32).toString('hex'),
    state: 'RUNNING',
    stateTimestamp: Date.now(),
    hostPort: 61001 + i,
    version: randomUUID(),
    spec: { applicationId: randomUUID(), applicationVersion: randomUUID(), ccPartition: 'default', instanceIndex: i % 10 },
  } as unknown as InstanceView;
}

const bytes = (o: unknown) => Buffer.byteLength(JSON.stringify(o));

/** Sizes in bytes of a heartbeat and an advertisement of an agent with `n` instances. */
export function payloadSizes(n: number): { heartbeat: number; advertise: number } {
  const instances = Array.from({ length: n }, (_, i) => fakeInstance(i));
  const counts = new Map(instances.map((inst) => [inst.spec.applicationId, 1] as const));
  const advert = advertise({ id: `0-${randomBytes(16).toString('hex')}`, stacks: ['cflinuxfs4'], availableMemoryMb: 8192, availableDiskMb: 16384, appIdToCount: counts, zone: 'z1' });
  return { heartbeat: bytes(heartbeat(`0-${randomBytes(16).toString('hex')}`, instances, '10.10.20.30')), advertise: bytes(advert) };
}

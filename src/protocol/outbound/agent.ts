/**
 * What the agent says about itself (protocol §4.1, §4.2, §4.3, §4.7, §3.5):
 * hello, advertisements, goodbye and the `dea.status` reply.
 */

/** The protocol version v2 DEAs announce (v1 sent the number 0.99). */
export const DEA_VERSION = '0.0.1';

/** App id → number of instances here; a Map keeps an id like `__proto__` harmless. */
export type AppCounts = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

/** A fresh object with own properties only (Object.fromEntries never assigns a prototype). */
function countsObject(counts: AppCounts): Record<string, number> {
  const entries = counts instanceof Map ? counts.entries() : Object.entries(counts);
  return Object.fromEntries(entries);
}

export interface HelloMessage {
  id: string;
  ip: string;
  version: string;
}

export function hello(a: { id: string; ip: string }): HelloMessage {
  return { id: a.id, ip: a.ip, version: DEA_VERSION };
}

export interface AdvertiseMessage {
  id: string;
  stacks: string[];
  available_memory: number;
  available_disk: number;
  app_id_to_count: Record<string, number>;
  placement_properties: { zone: string };
}

export function advertise(a: {
  id: string;
  stacks: readonly string[];
  availableMemoryMb: number;
  availableDiskMb: number;
  appIdToCount: AppCounts;
  zone: string;
}): AdvertiseMessage {
  return {
    id: a.id,
    stacks: [...a.stacks],
    available_memory: a.availableMemoryMb,
    available_disk: a.availableDiskMb,
    app_id_to_count: countsObject(a.appIdToCount),
    placement_properties: { zone: a.zone },
  };
}

export interface StagingAdvertiseMessage {
  id: string;
  stacks: string[];
  available_memory: number;
  available_disk: number;
}

/** Staging is out of scope; this only keeps CC's stager pool from refusing starts (§16). */
export function stagingAdvertise(a: { id: string }): StagingAdvertiseMessage {
  return { id: a.id, stacks: [], available_memory: 0, available_disk: 0 };
}

export interface GoodbyeMessage extends HelloMessage {
  app_id_to_count: Record<string, number>;
}

/** The `dea.shutdown` body. */
export function goodbye(a: { id: string; ip: string; appIdToCount: AppCounts }): GoodbyeMessage {
  return { ...hello(a), app_id_to_count: countsObject(a.appIdToCount) };
}

export interface StatusReply extends HelloMessage {
  max_memory: number;
  reserved_memory: number;
  used_memory: number;
  num_clients: null;
}

export function statusReply(a: {
  id: string;
  ip: string;
  maxMemoryMb: number;
  reservedMemoryMb: number;
  usedMemoryMb: number;
}): StatusReply {
  return {
    ...hello(a),
    max_memory: a.maxMemoryMb,
    reserved_memory: a.reservedMemoryMb,
    used_memory: a.usedMemoryMb,
    num_clients: null,
  };
}

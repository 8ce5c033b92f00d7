/**
 * An agent's varz (protocol §10), fetched with the credentials it announced in its
 * `vcap.component.discover` reply, and the summary deactl shows of it.
 */
import type { Component } from './fleet.js';

export interface VarzSummary {
  readonly uptime: string;
  readonly cpu: number | null;
  readonly memBytes: number | null;
  readonly backend: string | null;
  readonly reservedMemoryMb: number | null;
  /** Σ disk limits of the instances that hold disk (protocol §8.1: CRASHED ones too). */
  readonly reservedDiskMb: number;
  readonly instances: number | null;
}

const HOLDS_DISK = new Set(['BORN', 'STARTING', 'RUNNING', 'STOPPING', 'CRASHED']);

export async function fetchVarz(c: Component, timeoutMs = 3_000): Promise<Record<string, any>> {
  const auth = Buffer.from(`${c.credentials[0]}:${c.credentials[1]}`).toString('base64');
  const res = await fetch(`http://${c.host}/varz`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`varz answered ${res.status}`);
  return (await res.json()) as Record<string, any>;
}

function reservedDisk(registry: unknown): number {
  let mb = 0;
  for (const byInstance of Object.values((registry ?? {}) as Record<string, Record<string, any>>)) {
    for (const i of Object.values(byInstance)) if (HOLDS_DISK.has(i.state)) mb += Number(i.limits?.disk ?? 0);
  }
  return mb;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function summarise(varz: Record<string, any>): VarzSummary {
  return {
    uptime: String(varz.uptime ?? ''),
    cpu: num(varz.cpu),
    memBytes: num(varz.mem_bytes),
    backend: typeof varz.backend === 'string' ? varz.backend : null,
    reservedMemoryMb: num(varz.apps_reserved_memory),
    reservedDiskMb: reservedDisk(varz.instance_registry),
    instances: num(varz.num_apps),
  };
}

/**
 * What the bus carries, as the nats-servers count it: every client connection's
 * messages and bytes in and out (`/connz` on each node's monitoring port), and each
 * server's CPU time (from /proc). Two samples make a window; the difference per second
 * is the rate.
 */
import { readFileSync } from 'node:fs';
import type { NatsCluster } from '../../test/support/nats-cluster.js';

export interface ConnCounters {
  readonly name: string;
  readonly node: number;
  readonly inMsgs: number;
  readonly inBytes: number;
  readonly outMsgs: number;
  readonly outBytes: number;
}

export interface TrafficSample {
  readonly atMs: number;
  readonly conns: ConnCounters[];
  /** CPU seconds used so far by each node's process. */
  readonly serverCpuS: number[];
}

interface Connz {
  connections?: Array<{ name?: string; in_msgs: number; in_bytes: number; out_msgs: number; out_bytes: number }>;
}

export async function sampleTraffic(cluster: NatsCluster): Promise<TrafficSample> {
  const conns: ConnCounters[] = [];
  for (const node of cluster.nodes) {
    const res = await fetch(`http://127.0.0.1:${node.monitorPort}/connz?limit=4096`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as Connz;
    for (const c of body.connections ?? []) {
      conns.push({ name: c.name ?? '', node: node.index, inMsgs: c.in_msgs, inBytes: c.in_bytes, outMsgs: c.out_msgs, outBytes: c.out_bytes });
    }
  }
  return { atMs: Date.now(), conns, serverCpuS: cluster.nodes.map((n) => cpuSeconds(n.server.pid)) };
}

export interface WindowRates {
  readonly seconds: number;
  /** Per agent connection (`dea-<index>`): what it published and received, per second. */
  readonly perAgent: Array<{ name: string; node: number; msgsOut: number; bytesOut: number; msgsIn: number; bytesIn: number }>;
  /** Each server's CPU, as a fraction of one core over the window. */
  readonly serverCpu: number[];
}

export function rates(a: TrafficSample, b: TrafficSample, isAgent: (name: string) => boolean): WindowRates {
  const seconds = (b.atMs - a.atMs) / 1000;
  const before = new Map(a.conns.map((c) => [c.name, c]));
  const perAgent = b.conns
    .filter((c) => isAgent(c.name) && before.has(c.name))
    .map((c) => {
      const p = before.get(c.name)!;
      // The server's "in" is what the client published; its "out" what the client got.
      return {
        name: c.name,
        node: c.node,
        msgsOut: (c.inMsgs - p.inMsgs) / seconds,
        bytesOut: (c.inBytes - p.inBytes) / seconds,
        msgsIn: (c.outMsgs - p.outMsgs) / seconds,
        bytesIn: (c.outBytes - p.outBytes) / seconds,
      };
    });
  const serverCpu = b.serverCpuS.map((s, i) => (s - a.serverCpuS[i]!) / seconds);
  return { seconds, perAgent, serverCpu };
}

function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the comm field).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

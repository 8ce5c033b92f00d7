/**
 * `tc -batch` script shaping one instance both ways (Warden's net_rate.sh, reference
 * docs/network.md): tbf on the host end shapes what flows into the container; the host
 * end's ingress (the container's upload) is redirected to an ifb whose tbf shapes it.
 * `police` is not built into this kernel, hence the ifb. Pure.
 *
 * Shaping lives behind this one function so a later shared policy (an HTB tree whose
 * classes borrow) replaces the script, not its callers.
 */
import type { NetNames } from './names.js';

export interface Bandwidth {
  /** bytes per second */
  readonly rate: number;
  /** bytes */
  readonly burst: number;
}

/** A burst tbf can work with: at least a full frame, and one timer tick (HZ 250) at the rate. */
export function effectiveBurst(b: Bandwidth, mtu: number): number {
  return Math.max(b.burst, mtu + 100, Math.ceil(b.rate / 250));
}

export function shapingScript(n: Pick<NetNames, 'hostIf' | 'ifb'>, b: Bandwidth, mtu: number): string {
  const tbf = `tbf rate ${b.rate * 8}bit burst ${effectiveBurst(b, mtu)} latency 25ms`;
  return [
    `qdisc add dev ${n.hostIf} root handle 1: ${tbf}`,
    `qdisc add dev ${n.hostIf} handle ffff: ingress`,
    `filter add dev ${n.hostIf} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ${n.ifb}`,
    `qdisc add dev ${n.ifb} root handle 1: ${tbf}`,
    '',
  ].join('\n');
}

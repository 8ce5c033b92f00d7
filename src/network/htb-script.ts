/**
 * `bandwidth.policy: shared` (docs/network.md), as `tc -batch` scripts. Pure; run by
 * shared-bandwidth.ts.
 *
 * One HTB tree per direction on two ifbs shared by every instance: each veth's host end
 * redirects its egress (into the container) to the "down" ifb and its ingress (the
 * container's upload) to the "up" ifb. Under a root class at the node's rate, every
 * instance has a class with a guaranteed rate proportional to its memory and a ceiling
 * of the node's rate: alone it may use all of it, busy neighbours share by guarantee.
 * Classes and filters carry the instance's class number, so one instance's can be removed
 * without touching the others'.
 */

export interface SharedDevices {
  /** ifb for traffic into the containers (their host ends' egress) */
  readonly down: string;
  /** ifb for traffic out of them (their host ends' ingress) */
  readonly up: string;
}

/** Class numbers 1 (the root) and 0xffff are taken; instances get 2…0xfffe. */
export const MAX_CLASSES = 0xfffd;

/** bytes/s → tc's bit rate. */
function bits(bytesPerS: number): string {
  return `${Math.max(8, Math.round(bytesPerS * 8))}bit`;
}

/** The two trees, each with its root class at the node's rate. Unclassified traffic passes unshaped. */
export function sharedRootScript(d: SharedDevices, nodeRate: number): string {
  return [d.down, d.up]
    .flatMap((dev) => [`qdisc add dev ${dev} root handle 1: htb default 0`, `class add dev ${dev} parent 1: classid 1:1 htb rate ${bits(nodeRate)} ceil ${bits(nodeRate)}`])
    .concat('')
    .join('\n');
}

/** An instance's guarantee: its share of the node's rate by memory (never below 1 kB/s). */
export function guaranteedRate(memMb: number, capacityMb: number, nodeRate: number): number {
  return Math.max(1000, Math.floor((nodeRate * memMb) / Math.max(memMb, capacityMb)));
}

export interface SharedInstance {
  /** 2…0xfffe, unique among the node's instances */
  readonly classNo: number;
  /** the host end of its veth */
  readonly hostIf: string;
  /** its address inside the container */
  readonly ip: string;
  readonly rate: number;
}

/** One instance joins both trees: its class in each, its filters, its veth's redirects. */
export function joinScript(d: SharedDevices, i: SharedInstance, nodeRate: number): string {
  const id = classId(i.classNo);
  const prio = i.classNo;
  return [
    `class add dev ${d.down} parent 1:1 classid ${id} htb rate ${bits(i.rate)} ceil ${bits(nodeRate)}`,
    `filter add dev ${d.down} parent 1: protocol ip prio ${prio} u32 match ip dst ${i.ip}/32 flowid ${id}`,
    `class add dev ${d.up} parent 1:1 classid ${id} htb rate ${bits(i.rate)} ceil ${bits(nodeRate)}`,
    `filter add dev ${d.up} parent 1: protocol ip prio ${prio} u32 match ip src ${i.ip}/32 flowid ${id}`,
    `qdisc add dev ${i.hostIf} clsact`,
    `filter add dev ${i.hostIf} egress protocol all u32 match u32 0 0 action mirred egress redirect dev ${d.down}`,
    `filter add dev ${i.hostIf} ingress protocol all u32 match u32 0 0 action mirred egress redirect dev ${d.up}`,
    '',
  ].join('\n');
}

/** What `joinScript` added to the shared trees (the veth's own filters go with the veth). */
export function leaveScript(d: SharedDevices, classNo: number): string {
  const id = classId(classNo);
  return [d.down, d.up].flatMap((dev) => [`filter del dev ${dev} parent 1: prio ${classNo}`, `class del dev ${dev} classid ${id}`]).concat('').join('\n');
}

function classId(n: number): string {
  if (!Number.isInteger(n) || n < 2 || n > MAX_CLASSES + 1) throw new RangeError(`class number out of range: ${n}`);
  return `1:${n.toString(16)}`;
}

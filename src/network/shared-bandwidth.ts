/**
 * `instance.bandwidth.policy: shared` on the host (docs/network.md): two ifbs of the
 * agent's, each with an HTB tree at the node's rate (htb-script.ts); an instance joins
 * both once its rules are in and leaves when its network goes. The trees outlive a killed
 * agent (running instances' veths redirect into them) and are removed at a clean
 * shutdown, when no instance is left. An instance's class number comes from its /30, so
 * it is the same after an agent restart and never collides within a pool up to /16.
 */
import type { Logger } from '../platform/logger.js';
import type { NetCommands } from './commands.js';
import { guaranteedRate, joinScript, leaveScript, sharedRootScript, type SharedDevices } from './htb-script.js';
import { parseIpv4 } from './ipv4.js';
import type { Subnet } from './subnet-pool.js';

export class SharedBandwidth {
  readonly devices: SharedDevices;

  constructor(
    tag: string,
    private readonly nodeRate: number,
    /** The memory that guarantees divide the rate by (capacity with overcommit), MB. */
    private readonly capacityMb: number,
    private readonly commands: NetCommands,
    private readonly logger: Logger,
  ) {
    this.devices = { down: `dea${tag}-sd`, up: `dea${tag}-su` };
  }

  /** The trees, unless an earlier agent's are still there (its instances use them). */
  async init(): Promise<void> {
    const { down, up } = this.devices;
    const have = await this.commands.ipOutput(['-j', 'link', 'show', 'dev', down]).then(() => true, () => false);
    if (have) return;
    await this.commands.ipBatch(`link add ${down} type ifb\nlink add ${up} type ifb\nlink set ${down} up\nlink set ${up} up\n`);
    await this.commands.tcBatch(sharedRootScript(this.devices, this.nodeRate));
    this.logger.info({ event: 'network.bandwidth.shared', rate: this.nodeRate, devices: [down, up] }, 'shared bandwidth: one HTB tree each way');
  }

  async join(subnet: Subnet, hostIf: string, memMb: number): Promise<void> {
    // A class left by an instance that ended while no agent ran holds its /30's number.
    await this.leave(subnet);
    const rate = guaranteedRate(memMb, this.capacityMb, this.nodeRate);
    await this.commands.tcBatch(joinScript(this.devices, { classNo: classNo(subnet), hostIf, ip: subnet.containerIp, rate }, this.nodeRate));
  }

  async leave(subnet: Subnet): Promise<void> {
    await this.commands.tcBatch(leaveScript(this.devices, classNo(subnet))).catch(() => undefined); // not there: nothing to do
  }

  /** Clean shutdown, every instance stopped: the trees go. */
  async close(): Promise<void> {
    for (const dev of [this.devices.down, this.devices.up]) await this.commands.ipBatch(`link delete dev ${dev}\n`).catch(() => undefined);
  }
}

/** 2 + the /30's index in its /16: stable for a subnet, unique within a pool up to /16. */
export function classNo(subnet: Subnet): number {
  const addr = parseIpv4(subnet.network) ?? 0;
  return ((addr >>> 2) & 0x3fff) + 2;
}

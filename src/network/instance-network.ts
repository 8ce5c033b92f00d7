import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ReadySlots } from './ready-slots.js';
import { AgentError, ErrorCodes } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import type { Claims } from './claims.js';
import type { NetCommands } from './commands.js';
import type { EgressRule } from './egress.js';
import { containerSideScript, hostSideScript } from './ip-script.js';
import { instanceLinks, netNames, type NetNames } from './names.js';
import { closedTableScript, deleteTableScript, instanceTableScript, replaceTableScript, type FirewallPolicy } from './nft-script.js';
import { subnetAt, type Subnet, type SubnetPool } from './subnet-pool.js';
import { parseIpv4 } from './ipv4.js';
import { shapingScript, type Bandwidth } from './tc-script.js';
import { SharedBandwidth } from './shared-bandwidth.js';
import { findOwned, removalOrder, removeLeftover } from './sweep.js';
import { sweepOrphans } from './orphans.js';
import { agentStates, registerAgent, unregisterAgent } from './agents.js';

/** What an instance's network is made of: kept in its backend handle, so a restart finds it. */
export interface NetRecord {
  /** Named by the network's own id (names.instanceId), made before its instance was known. */
  readonly names: NetNames;
  /** Its host-side links' names once it serves an instance (its short id); `names`' until then. */
  readonly links: Pick<NetNames, 'hostIf' | 'ifb'>;
  readonly subnet: Subnet;
  readonly shaped: boolean;
}

export interface NetworkOptions {
  readonly tag: string;
  readonly subnets: SubnetPool;
  readonly claims: Claims;
  readonly policy: FirewallPolicy;
  readonly mtu: number;
  readonly appPort: number;
  /** The host addresses whose host ports map to apps (local_ip, 127.0.0.1). */
  readonly mappedAddresses: readonly string[];
  readonly bandwidth: Bandwidth | null;
  /** `bandwidth.policy: shared`: the node's rate divided by memory (then `bandwidth` is null). */
  readonly shared?: SharedBandwidth | null;
  readonly commands: NetCommands;
  readonly logger: Logger;
  /** Where named namespaces live (`ip netns`). */
  readonly netnsDir: string;
  /** How many networks to keep made ahead. */
  readonly readySlots: number;
  /** Who a host port is claimed for before its instance has a network (the port pool's owner name). */
  readonly portOwner: (instanceId: string) => string;
}

/**
 * Instances' networks. All but an instance's own rules is made ahead (ready-slots.ts),
 * closed until then; `prepare` hands one to a starting instance (the namespace its
 * supervisor joins), `configure` swaps in the instance's rules while the container
 * starts. `remove` undoes whatever was made.
 */
export class InstanceNetworks {
  private readonly slots: ReadySlots<NetRecord>;

  constructor(private readonly o: NetworkOptions) {
    this.slots = new ReadySlots(() => this.make(), (rec) => this.remove(rec), o.readySlots, o.logger);
  }

  get appPort(): number {
    return this.o.appPort;
  }

  /**
   * A network for an instance: one made ahead if one is ready. Its names carry its own
   * id (it was made before the instance was known); the instance's handle records it.
   * The host port's claim is handed over to it, so both end with it.
   */
  async prepare(instanceId: string): Promise<NetRecord> {
    const rec = await this.slots.take();
    return { ...rec, links: instanceLinks(instanceId) };
  }

  /** Makes networks ahead again, up to the pool's size (after a start has done its own work). */
  refill(): void {
    this.slots.refill();
  }

  /** Starts making networks ahead (after the agent's sweep). */
  startReady(): void {
    this.slots.start();
  }

  /** Agent shutdown: the networks made ahead go. */
  async close(): Promise<void> {
    await this.slots.close();
    await this.o.shared?.close();
    this.o.logger.info({ event: 'network.closed', tag: this.o.tag }, 'instance networks made ahead removed');
    await unregisterAgent(this.o.claims.root, this.o.tag);
  }

  /**
   * Claims a /30 and makes the whole network but the instance's rules: namespace, veth
   * pair, addresses and route, shaping, and a closed table that refuses everything from
   * it until `configure` swaps in the instance's. Nothing is left if it fails.
   */
  private async make(): Promise<NetRecord> {
    const names = netNames(this.o.tag, randomBytes(16).toString('hex'));
    const subnet = await this.claimSubnet(names.netns);
    const rec: NetRecord = { names, links: names, subnet, shaped: this.o.bandwidth !== null };
    const { commands, mtu, bandwidth } = this.o;
    try {
      await commands.ipBatch(hostSideScript({ names, subnet, mtu }) + this.ifbLines(rec));
      // 127.0.0.1 mapped to the container: the kernel routes loopback sources out of this link only with route_localnet.
      await commands.sysctl(`/proc/sys/net/ipv4/conf/${names.hostIf}/route_localnet`, '1');
      await commands.nft(closedTableScript(names));
      await commands.ipBatch(containerSideScript({ names, subnet, mtu }), names.netns);
      if (bandwidth !== null) await commands.tcBatch(shapingScript(names, bandwidth, mtu));
    } catch (err) {
      await this.remove(rec);
      throw networkFailed('cannot make the network namespace', err);
    }
    return rec;
  }

  /** The host port's claim handed to the network, then the instance's rules in place of the closed table (one nft transaction). */
  async configure(rec: NetRecord, instanceId: string, hostPort: number, egress: readonly EgressRule[], memMb = 0): Promise<void> {
    const { commands, policy, appPort, mappedAddresses } = this.o;
    if (!(await this.o.claims.transfer('ports', String(hostPort), this.o.portOwner(instanceId), rec.names.netns))) {
      throw networkFailed('the host port is no longer ours', new Error(String(hostPort)));
    }
    try {
      if (!/^[0-9a-f]{32}$/.test(instanceId)) throw new Error(`not an instance id: ${instanceId.slice(0, 40)}`);
      // Its links take the instance's short id; the closed table matches them by index meanwhile.
      await commands.ipBatch(renameScript(rec));
      const names = { ...rec.names, ...rec.links };
      const table = instanceTableScript({ names, instanceId, subnet: rec.subnet, mappedAddresses, hostPort, appPort, egress, policy });
      await commands.nft(replaceTableScript(rec.names, table));
      await this.o.shared?.join(rec.subnet, rec.links.hostIf, memMb);
    } catch (err) {
      throw networkFailed('cannot set up the container network', err);
    }
  }

  /**
   * What the container's supervisor removes itself when the instance ends, even with no
   * agent running (libexec/container/netclean.c): the table, the ifb, the namespace, the claims.
   */
  endsWithInstance(rec: NetRecord, hostPort: number): { netns: string; table: string; links: string[]; claims: string[] } {
    const n = rec.names;
    return {
      netns: `${this.o.netnsDir}/${n.netns}`,
      table: n.table,
      links: rec.shaped ? [rec.links.ifb] : [],
      claims: [this.o.claims.path('subnets', rec.subnet.network), this.o.claims.path('ports', String(hostPort))],
    };
  }

  /** Removes whatever of the record exists (each step on its own), then frees the /30. */
  async remove(rec: NetRecord): Promise<void> {
    const { commands } = this.o;
    const n = rec.names;
    await this.o.shared?.leave(rec.subnet);
    // The supervisor removes it all, namespace last, when the instance ends: then nothing is left.
    if (!existsSync(`${this.o.netnsDir}/${n.netns}`)) {
      await this.o.claims.release('subnets', rec.subnet.network, n.netns);
      return;
    }
    // Its links under whichever names they have (renamed for the instance, or not yet).
    const linkNames = (pick: (l: Pick<NetNames, 'hostIf' | 'ifb'>) => string) => [...new Set([pick(rec.links), pick(n)])];
    const deleteLinks = (names: string[]) => Promise.all(names.map((l) => commands.ipBatch(`link delete dev ${l}\n`).catch((err: unknown) => (isAbsent(err) ? undefined : Promise.reject(err)))));
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['table', () => commands.nft(deleteTableScript(n))],
      // Deleting the host end takes its peer with it; the namespace then holds only lo.
      ['veth', () => deleteLinks(linkNames((l) => l.hostIf))],
      ['ifb', () => (rec.shaped ? deleteLinks(linkNames((l) => l.ifb)) : Promise.resolve())],
      ['netns', () => commands.ipBatch(`netns delete ${n.netns}\n`)],
    ];
    for (const [what, step] of steps) {
      await step().catch((err: unknown) => {
        if (!isAbsent(err)) this.o.logger.warn({ event: 'network.teardown.failed', instance_id: n.instanceId, what, err: String(err) }, `cannot remove the ${what}`);
      });
    }
    await this.o.claims.release('subnets', rec.subnet.network, n.netns);
  }

  /**
   * Host set-up, once: the claims directory, and forwarding on (the instances' egress is
   * routed through the host; without it no rule could ever let a packet out).
   */
  async init(): Promise<void> {
    await this.o.claims.init();
    await registerAgent(this.o.claims.root, this.o.tag);
    await this.o.commands.sysctl('/proc/sys/net/ipv4/ip_forward', '1');
    await this.o.shared?.init();
    this.o.logger.info({ event: 'network.ready', tag: this.o.tag, ready_slots: this.o.readySlots }, `instance networks: names tagged ${this.o.tag}`);
  }

  /** After adoption: everything of this agent's that no adopted instance (by instance or network id) explains goes. */
  async sweep(adopted: ReadonlySet<string>): Promise<void> {
    const { commands, claims, logger, tag } = this.o;
    const owned = await findOwned(tag, commands, claims);
    const ready = new Set(this.slots.peek().map((r) => r.names.instanceId));
    for (const [id, items] of owned.byInstance) {
      if (adopted.has(id) || ready.has(id)) continue;
      for (const what of removalOrder(items)) {
        await removeLeftover(what, commands, claims).catch((err: unknown) => {
          if (!isAbsent(err)) logger.warn({ event: 'network.sweep.failed', instance_id: id, what, err: String(err) }, `cannot remove ${what}`);
        });
      }
      logger.info({ event: 'network.swept', instance_id: id, removed: items }, `network of an instance no snapshot explains removed (${items.length} items)`);
    }
    const { live: liveTags, dead: deadTags } = agentStates(claims.root, true);
    liveTags.delete(tag); // ours were just swept above
    const orphans = await sweepOrphans({ commands, claims, netnsDir: this.o.netnsDir, liveTags, deadTags });
    if (orphans.length > 0) logger.info({ event: 'network.orphans.swept', removed: orphans }, `networks no agent or container explains removed (${orphans.length} items)`);
  }

  /** An adopted instance's subnet: remembered as taken (its claim is on disk). */
  adopt(rec: NetRecord): void {
    this.o.subnets.taken(rec.subnet);
  }

  /** The record of an earlier agent's handle (its network's id, its instance's), if it is one of ours. */
  recordOf(netId: string, instanceId: string, subnet: string, shaped: boolean): NetRecord | null {
    if (!this.o.subnets.holds(subnet)) return null;
    const addr = parseIpv4(subnet);
    return addr === null ? null : { names: netNames(this.o.tag, netId), links: instanceLinks(instanceId), subnet: subnetAt(addr), shaped };
  }

  private async claimSubnet(owner: string): Promise<Subnet> {
    for (const subnet of this.o.subnets.candidates()) {
      if (await this.o.claims.claim('subnets', subnet.network, owner)) {
        this.o.subnets.taken(subnet);
        return subnet;
      }
    }
    const size = this.o.subnets.size;
    throw new AgentError(ErrorCodes.BACKEND_FAILED, `no free subnet (all ${size} /30s of the pool are taken)`, {
      exitDescription: `failed to start: no free subnet (all ${size} /30s of the network pool are taken)`,
    });
  }

  private ifbLines(rec: NetRecord): string {
    if (!rec.shaped) return '';
    const n = rec.names;
    return `link add ${n.ifb} type ifb\nlink set dev ${n.ifb} alias ${n.alias}\nlink set dev ${n.ifb} up\n`;
  }
}

function renameScript(rec: NetRecord): string {
  const lines = [`link set dev ${rec.names.hostIf} name ${rec.links.hostIf}`];
  if (rec.shaped) lines.push(`link set dev ${rec.names.ifb} name ${rec.links.ifb}`);
  return `${lines.join('\n')}\n`;
}

/** `ip`/`nft` saying the thing to delete is not there: already gone, which is the goal. */
function isAbsent(err: unknown): boolean {
  return /No such|Cannot find|does not exist|not found/i.test(String(err));
}

function networkFailed(what: string, err: unknown): AgentError {
  const why = err instanceof Error ? err.message : String(err);
  return new AgentError(ErrorCodes.BACKEND_FAILED, `${what}: ${why}`, { cause: err, exitDescription: `failed to start: ${what}` });
}

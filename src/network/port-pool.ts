import { AgentError, ErrorCodes } from '../errors.js';
import type { Claims } from './claims.js';

export interface PortPoolOptions {
  readonly start: number;
  readonly size: number;
  /** The owner name a port is claimed for (the instance's netns name). */
  readonly ownerOf: (instanceId: string) => string;
  /** Whether an owner name is this agent's (release never frees another agent's port). */
  readonly owns: (owner: string) => boolean;
}

/**
 * Host ports for net-in, from [start, start + size): the lifecycle's `Ports` when
 * instances have networks of their own. Each is claimed host-wide (claims.ts), for the
 * instance it maps, so an agent after a restart and its neighbours agree on who has it.
 */
export class HostPortPool {
  private next = 0;
  private readonly held = new Map<number, string>();

  constructor(private readonly claims: Claims, private readonly opts: PortPoolOptions) {}

  async allocate(instanceId?: string): Promise<number> {
    if (instanceId === undefined) throw new Error('a host port is claimed for an instance');
    const owner = this.opts.ownerOf(instanceId);
    const { start, size } = this.opts;
    for (let i = 0; i < size; i++) {
      const port = start + ((this.next + i) % size);
      if (this.held.has(port)) continue;
      if (!(await this.claims.claim('ports', String(port), owner))) continue;
      this.next = (this.next + i + 1) % size;
      this.held.set(port, owner);
      return port;
    }
    throw new AgentError(ErrorCodes.BACKEND_FAILED, `no free host port (all ${size} of ${start}-${start + size - 1} are taken)`, {
      exitDescription: `failed to start: no free host port (all ${size} ports of the port pool are taken)`,
    });
  }

  /** An adopted instance's port: held again in memory (its claim is on disk already). */
  claim(port: number): void {
    if (port >= this.opts.start && port < this.opts.start + this.opts.size) this.held.set(port, '');
  }

  release(port: number | null): void {
    if (port === null) return;
    this.held.delete(port);
    void this.claims.holder('ports', String(port)).then((owner) => {
      if (owner !== null && this.opts.owns(owner)) return this.claims.release('ports', String(port), owner);
    }).catch(() => undefined);
  }
}

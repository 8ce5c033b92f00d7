import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EgressRule } from '../../network/egress.js';
import type { InstanceNetworks, NetRecord } from '../../network/instance-network.js';

/**
 * An instance's rules, swapped in for its network's closed table once the container has
 * started, while the app boots: the app is isolated from its first instruction whatever
 * the timing, and the start does not wait for `ip` and `nft` (10-40 ms here, most of a
 * start's network cost); the health check does, through the mapped port. If it fails, the container is ended
 * and its exit reports why. Clean-up waits for it, so no rule outlives the instance.
 */
export class NetworkStart {
  /** Settles (never rejects) once the rules are in or have failed. */
  readonly done: Promise<void>;
  private failed: string | null = null;

  constructor(
    network: InstanceNetworks,
    net: NetRecord,
    spec: { readonly instanceId: string; readonly limits?: { readonly memMb: number }; readonly network?: { readonly hostPort: number; readonly egress: readonly EgressRule[] } },
    runDir: string,
    /** Settles when the container's start is over: the swap's processes would compete with it for the CPU. */
    after: Promise<unknown>,
    end: () => Promise<void>,
  ) {
    const request = spec.network ?? { hostPort: 0, egress: [] };
    const configure = async () => {
      await network.configure(net, spec.instanceId, request.hostPort, request.egress, spec.limits?.memMb ?? 0);
      // From net-ready on, the supervisor removes the network itself when the instance ends (netclean.c).
      await writeFile(join(runDir, 'net-ready'), '');
    };
    // A container that could not start needs no rules: the caller removes its network.
    this.done = after
      .then(configure, () => undefined)
      .catch(async (err: unknown) => {
        this.failed = (err as { exitDescription?: string }).exitDescription ?? 'failed to start: cannot set up the container network';
        await end().catch(() => undefined);
      })
      // Only now the next network is made ahead: it would have competed with this start.
      .finally(() => network.refill());
  }

  /** Why the network ended the instance, if it did. */
  failure(): string | null {
    return this.failed;
  }
}

import { formatIpv4, type Cidr } from './ipv4.js';

/** One instance's /30: network, host end (.1), container end (.2). */
export interface Subnet {
  /** The network address, `a.b.c.d` (the /30's first address). */
  readonly network: string;
  readonly hostIp: string;
  readonly containerIp: string;
}

export const SUBNET_PREFIX = 30;
const SUBNET_SIZE = 4;

export function subnetAt(networkAddr: number): Subnet {
  return { network: formatIpv4(networkAddr), hostIp: formatIpv4(networkAddr + 1), containerIp: formatIpv4(networkAddr + 2) };
}

/** How many /30s a pool holds. */
export function subnetCount(pool: Cidr): number {
  return pool.prefix > SUBNET_PREFIX ? 0 : 2 ** (SUBNET_PREFIX - pool.prefix);
}

/**
 * The /30s of the configured pool, in order, as candidates: which are free is decided by
 * the claims (claims.ts), since other agents on the host draw from the same addresses.
 * Round robin from where the last one was taken, so a subnet just given back is the last
 * to be reused (a late packet for the old instance never reaches a new one).
 */
export class SubnetPool {
  private next = 0;
  readonly size: number;

  constructor(private readonly pool: Cidr) {
    this.size = subnetCount(pool);
  }

  /** Every candidate once, starting after the last one handed out. */
  *candidates(): Generator<Subnet> {
    for (let i = 0; i < this.size; i++) {
      const index = (this.next + i) % this.size;
      yield subnetAt(this.pool.first + index * SUBNET_SIZE);
    }
  }

  /** Remembers where to start next time. */
  taken(subnet: Subnet): void {
    const index = this.indexOf(subnet);
    if (index !== null) this.next = (index + 1) % this.size;
  }

  /** Whether `network` is a /30 of this pool (an adopted handle's subnet must be). */
  holds(network: string): boolean {
    return this.indexOf({ network }) !== null;
  }

  private indexOf(subnet: Pick<Subnet, 'network'>): number | null {
    for (let i = 0; i < this.size; i++) {
      if (formatIpv4(this.pool.first + i * SUBNET_SIZE) === subnet.network) return i;
    }
    return null;
  }
}

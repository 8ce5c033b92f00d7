import { describe, expect, it } from 'vitest';
import { networkProblems } from '../../../src/network/config-checks.js';
import { resolvConf } from '../../../src/backends/container/network-files.js';

const base = { pool: '10.254.0.0/22', portPoolStart: 61001, portPoolSize: 4534, capacityMb: 8192 };
const host = { hostNetworks: ['192.0.2.2/24', '127.0.0.1/8'], ephemeral: [32768, 60999] as const };

describe('network config against the host', () => {
  it('accepts the defaults on a host like this one', () => {
    expect(networkProblems(base, host)).toEqual([]);
  });

  it('refuses a pool over a host network, a pool too small, a port pool in the ephemeral range', () => {
    expect(networkProblems({ ...base, pool: '192.0.2.0/24' }, host)).toEqual([
      'backend.container.network.pool: expected a pool that overlaps no host network, got "192.0.2.0/24" (overlaps 192.0.2.2/24)',
    ]);
    expect(networkProblems({ ...base, pool: '10.254.0.0/28' }, host)[0]).toMatch(/^backend\.container\.network\.pool: expected room for 64 instances/);
    expect(networkProblems({ ...base, portPoolStart: 60000 }, host)).toEqual([
      "backend.container.network.port_pool_start: expected a port pool outside the kernel's ephemeral range 32768-60999, got 60000-64533",
    ]);
    expect(networkProblems({ ...base, portPoolSize: 10 }, host)[0]).toMatch(/^backend\.container\.network\.port_pool_size: expected at least 64 ports/);
  });
});

describe('resolv.conf inside', () => {
  it("keeps the host's resolvers but loopback ones, which become the host end", () => {
    expect(resolvConf('search example.test\nnameserver 10.255.255.53\n', '10.254.0.1')).toBe('search example.test\nnameserver 10.255.255.53\n');
    expect(resolvConf('nameserver 127.0.0.53\noptions edns0\n', '10.254.0.1')).toBe('options edns0\nnameserver 10.254.0.1\n');
  });
});

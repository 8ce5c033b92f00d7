import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetRecord } from '../../network/instance-network.js';

/**
 * /etc/hosts and /etc/resolv.conf as the instance sees them: its own name on its own
 * address, and the host's resolvers, except loopback ones, which mean nothing in the
 * namespace (then the host end, as Warden did: reachable only where host access is allowed).
 */
export async function writeNetworkFiles(runDir: string, rec: NetRecord, hostname: string): Promise<{ hosts: string; resolv: string }> {
  const hosts = join(runDir, 'hosts');
  const resolv = join(runDir, 'resolv.conf');
  await writeFile(hosts, `127.0.0.1 localhost\n::1 localhost\n${rec.subnet.containerIp} ${hostname}\n`, { mode: 0o644 });
  await writeFile(resolv, resolvConf(hostResolvConf(), rec.subnet.hostIp), { mode: 0o644 });
  return { hosts, resolv };
}

export function resolvConf(host: string, hostIp: string): string {
  const kept = host.split('\n').filter((l) => /^\s*(search|domain|options)\s/.test(l) || (/^\s*nameserver\s/.test(l) && !/^\s*nameserver\s+(127\.|::1)/.test(l)));
  if (!kept.some((l) => /^\s*nameserver\s/.test(l))) kept.push(`nameserver ${hostIp}`);
  return `${kept.map((l) => l.trim()).join('\n')}\n`;
}

function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

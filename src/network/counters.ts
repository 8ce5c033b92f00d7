import { readFileSync } from 'node:fs';

/** A link's byte counters, as the host sees them (/sys/class/net/<link>/statistics); null when it is gone. */
export function linkCounters(link: string, sysDir = '/sys/class/net'): { rxBytes: number; txBytes: number } | null {
  try {
    const read = (name: string) => Number(readFileSync(`${sysDir}/${link}/statistics/${name}`, 'utf8').trim());
    return { rxBytes: read('rx_bytes'), txBytes: read('tx_bytes') };
  } catch {
    return null;
  }
}

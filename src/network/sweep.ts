import { readdir } from 'node:fs/promises';
import type { Claims } from './claims.js';
import type { NetCommands } from './commands.js';
import { ownedId } from './names.js';

export interface NetworkLeftovers {
  /** instance id → what of it was found */
  readonly byInstance: Map<string, string[]>;
}

/**
 * Everything of this agent's (by its tag) on the host: namespaces, host-side links (by
 * their alias), nft tables and claims, grouped by instance id.
 */
export async function findOwned(tag: string, commands: NetCommands, claims: Claims, netnsDir = '/run/netns'): Promise<NetworkLeftovers> {
  const byInstance = new Map<string, string[]>();
  const add = (id: string | null, what: string) => {
    if (id !== null) byInstance.set(id, [...(byInstance.get(id) ?? []), what]);
  };
  for (const name of await readdir(netnsDir).catch(() => [] as string[])) add(ownedId(tag, name), `netns ${name}`);
  for (const link of await aliasedLinks(commands)) add(ownedId(tag, link.alias), `link ${link.name}`);
  for (const table of await tableNames(commands)) add(ownedId(tag, table), `table ${table}`);
  for (const kind of ['subnets', 'ports'] as const) {
    for (const [key, owner] of await claims.list(kind)) add(ownedId(tag, owner), `${kind} ${key}`);
  }
  return { byInstance };
}

/** Removes one leftover found by findOwned (its kind and name as listed there). */
export async function removeLeftover(what: string, commands: NetCommands, claims: Claims): Promise<void> {
  const [kind, name] = what.split(' ') as [string, string];
  if (kind === 'netns') await commands.ipBatch(`netns delete ${name}\n`);
  else if (kind === 'link') await commands.ipBatch(`link delete dev ${name}\n`);
  else if (kind === 'table') await commands.nft(`delete table ip ${name}\n`);
  else if (kind === 'subnets' || kind === 'ports') {
    const owner = await claims.holder(kind, name);
    if (owner !== null) await claims.release(kind, name, owner);
  }
}

const ORDER = ['table', 'link', 'netns', 'subnets', 'ports'];

/** Leftovers in removal order: rules first, addresses last (never reused while still routed). */
export function removalOrder(items: readonly string[]): string[] {
  return [...items].sort((a, b) => ORDER.indexOf(a.split(' ')[0] ?? '') - ORDER.indexOf(b.split(' ')[0] ?? ''));
}

export async function aliasedLinks(commands: NetCommands): Promise<{ name: string; alias: string }[]> {
  const text = await commands.ipOutput(['-j', 'link', 'show']).catch(() => '[]');
  const list = JSON.parse(text || '[]') as { ifname?: string; ifalias?: string }[];
  return list.filter((l) => l.ifname && l.ifalias).map((l) => ({ name: l.ifname as string, alias: l.ifalias as string }));
}

export async function tableNames(commands: NetCommands): Promise<string[]> {
  const text = await commands.nftOutput(['-j', 'list', 'tables']).catch(() => '{"nftables":[]}');
  const parsed = JSON.parse(text || '{"nftables":[]}') as { nftables: { table?: { family: string; name: string } }[] };
  return parsed.nftables.flatMap((e) => (e.table && e.table.family === 'ip' ? [e.table.name] : []));
}

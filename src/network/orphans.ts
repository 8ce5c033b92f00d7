import { lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import type { Claims } from './claims.js';
import type { NetCommands } from './commands.js';
import { aliasedLinks, tableNames } from './sweep.js';

/**
 * Networks that no agent and no container can still explain, whichever agent made them:
 * a namespace with no process in it for longer than any start takes (its container and
 * supervisor were killed together, or its agent was killed between making it and
 * starting the container), and rules, links and claims whose namespace is gone. A live
 * instance always has its init in its namespace, and its namespace outlives its rules,
 * links and claims (made after it, removed before it), so none of these is ever a live
 * instance's. Agents remove them when they start; nothing else would.
 */
const NAME = /^dea-([0-9a-f]{8})-([0-9a-f]{32})$/;
const GRACE_MS = 120_000;

export interface OrphanOptions {
  readonly commands: NetCommands;
  readonly claims: Claims;
  /** Tags of agents still running: theirs are never orphans (their ready networks hold no process). */
  readonly liveTags?: ReadonlySet<string>;
  /** Tags of agents known dead: their empty namespaces are orphans at once (nothing will join them). */
  readonly deadTags?: ReadonlySet<string>;
  readonly netnsDir?: string;
  readonly procDir?: string;
  readonly now?: () => number;
}

export async function sweepOrphans(o: OrphanOptions): Promise<string[]> {
  const netnsDir = o.netnsDir ?? '/run/netns';
  const now = (o.now ?? Date.now)();
  const inUse = namespacesInUse(o.procDir ?? '/proc');
  const removed: string[] = [];
  const live = new Set<string>();
  const liveTags = o.liveTags ?? new Set<string>();
  for (const name of list(netnsDir)) {
    const m = NAME.exec(name);
    if (!m) continue;
    if (liveTags.has(m[1] as string)) {
      live.add(name);
      continue;
    }
    const st = statOf(`${netnsDir}/${name}`);
    if (st === null) continue;
    const young = now - st.mtimeMs < GRACE_MS && !o.deadTags?.has(m[1] as string);
    if (inUse.has(st.ino) || young) live.add(name);
    else {
      await o.commands.ipBatch(`netns delete ${name}\n`).catch(() => undefined);
      removed.push(`netns ${name}`);
    }
  }
  const orphan = (tag: string, id: string) => !liveTags.has(tag) && !live.has(`dea-${tag}-${id}`);
  for (const table of await tableNames(o.commands)) {
    const m = /^dea_([0-9a-f]{8})_([0-9a-f]{32})$/.exec(table);
    if (m && orphan(m[1] as string, m[2] as string)) {
      await o.commands.nft(`delete table ip ${table}\n`).catch(() => undefined);
      removed.push(`table ${table}`);
    }
  }
  for (const link of await aliasedLinks(o.commands)) {
    const m = /^dea:([0-9a-f]{8}):([0-9a-f]{32})$/.exec(link.alias);
    // By alias alone: a link serving an instance carries the instance's short id in its name.
    if (m && orphan(m[1] as string, m[2] as string)) {
      await o.commands.ipBatch(`link delete dev ${link.name}\n`).catch(() => undefined);
      removed.push(`link ${link.name}`);
    }
  }
  for (const kind of ['subnets', 'ports'] as const) {
    for (const [key, owner] of await o.claims.list(kind)) {
      const st = statOf(o.claims.path(kind, key), true);
      const tag = NAME.exec(owner)?.[1];
      const old = st !== null && (now - st.mtimeMs >= GRACE_MS || o.deadTags?.has(tag ?? '') === true);
      if (tag !== undefined && !liveTags.has(tag) && !live.has(owner) && old) {
        await o.claims.release(kind, key, owner);
        removed.push(`${kind} ${key}`);
      }
    }
  }
  return removed;
}

/** The inode of every network namespace some process is in. */
function namespacesInUse(procDir: string): Set<number> {
  const out = new Set<number>();
  for (const pid of list(procDir)) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const m = /^net:\[(\d+)\]$/.exec(readlinkSync(`${procDir}/${pid}/ns/net`));
      if (m) out.add(Number(m[1]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function statOf(path: string, link = false): { ino: number; mtimeMs: number } | null {
  try {
    const st = link ? lstatSync(path) : statSync(path);
    return { ino: st.ino, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

/**
 * What an agent's networks left on the host, found by its tag (as the agent names them),
 * and a last-resort removal for the tests' clean-up: namespaces, links, nft tables,
 * claims. Only names carrying the tag are ever touched.
 */
import { expect } from 'vitest';
import { Claims } from '../../../src/network/claims.js';
import { sweepCgroupRoot } from '../container/harness.js';
import { systemCommands } from '../../../src/network/commands.js';
import { agentTag } from '../../../src/network/names.js';
import { findOwned, removalOrder, removeLeftover } from '../../../src/network/sweep.js';
import { sweepOrphans } from '../../../src/network/orphans.js';
import { agentStates } from '../../../src/network/agents.js';

export async function leftovers(baseDir: string): Promise<string[]> {
  const found = await findOwned(agentTag(baseDir), systemCommands, new Claims());
  return [...found.byInstance.values()].flat().sort();
}

/** A test's own leftovers, and garbage any killed agent left (see src/network/orphans.ts). */
export async function removeLeftovers(baseDir: string): Promise<void> {
  const claims = new Claims();
  // Agents of other tests, still running, keep theirs (their networks made ahead hold no process).
  const { live, dead } = agentStates(claims.root, true);
  await sweepOrphans({ commands: systemCommands, claims, liveTags: live, deadTags: dead });
  const found = await findOwned(agentTag(baseDir), systemCommands, claims);
  for (const items of found.byInstance.values()) {
    for (const what of removalOrder(items)) await removeLeftover(what, systemCommands, claims).catch(() => undefined);
  }
}

/**
 * A network suite's end: its agents stopped (`close`), whatever of their networks is left
 * removed (and that removal checked), and their cgroup roots gone.
 */
export async function closeNetworkSuite(baseDir: string | undefined, close: () => Promise<void>, cgroupRoots: readonly string[]): Promise<void> {
  await close();
  if (baseDir) {
    await removeLeftovers(baseDir);
    expect(await leftovers(baseDir)).toEqual([]);
  }
  for (const root of cgroupRoots) await sweepCgroupRoot(root);
}

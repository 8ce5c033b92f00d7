import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSameProcess, startTimeTicks } from '../backends/process/proc-tree.js';

/**
 * Which agents are alive, by tag: `<dir>/agents/<tag>` holds the agent's pid and start
 * time. An agent's networks made ahead hold no process, so without this another agent's
 * orphan sweep would take them for garbage; a live agent's networks are its own to sweep.
 */
export async function registerAgent(dir: string, tag: string): Promise<void> {
  await mkdir(join(dir, 'agents'), { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'agents', tag), `${process.pid} ${startTimeTicks(process.pid) ?? ''}\n`);
}

/** At agent shutdown. */
export async function unregisterAgent(dir: string, tag: string): Promise<void> {
  await rm(join(dir, 'agents', tag), { force: true });
}

/** Tags whose agent still runs (the same process: pid and start time); `prune` removes the others' records. */
export function liveAgents(dir: string, prune = false): Set<string> {
  return agentStates(dir, prune).live;
}

/** Live tags, and tags whose agent is known to have died (its record names a gone process). */
export function agentStates(dir: string, prune = false): { live: Set<string>; dead: Set<string> } {
  const live = new Set<string>();
  const dead = new Set<string>();
  let tags: string[] = [];
  try {
    tags = readdirSync(join(dir, 'agents'));
  } catch {
    return { live, dead };
  }
  for (const tag of tags) {
    try {
      const [pid, start] = readFileSync(join(dir, 'agents', tag), 'utf8').trim().split(' ');
      if (isSameProcess(Number(pid), start ? Number(start) : null)) live.add(tag);
      else {
        dead.add(tag);
        if (prune) rmSync(join(dir, 'agents', tag), { force: true });
      }
    } catch {
      // gone meanwhile
    }
  }
  return { live, dead };
}

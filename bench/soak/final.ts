/**
 * The end of a soak: everything stopped gracefully (each instance by dea.stop, then the
 * agent by SIGTERM), then the leak census: processes, mounts, cgroups, directories.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { stopOne } from './actions.js';
import { exitsCounted, reservationsAddUp } from './checks.js';
import type { Model } from './model.js';
import { sleep, until } from './probe.js';
import { cgroupRootDirs, processesUnder } from './procs.js';
import type { World } from './world.js';

export interface Leaks {
  processes: string[];
  mounts: string[];
  cgroups: string[];
  directories: string[];
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p.startsWith(`${dir}/`));
}

/** Crash directories are kept on purpose (protocol §6.5); any other entry is a leak. */
function leftoverDirs(w: World, m: Model): string[] {
  const crashed = new Set(m.inState('CRASHED').map((t) => t.instance));
  const out = ['instances', 'layers'].flatMap((d) => entries(path.join(w.baseDir, d)).map((e) => `${d}/${e}`));
  out.push(...entries(path.join(w.baseDir, 'crashes')).filter((e) => !crashed.has(e)).map((e) => `crashes/${e}`));
  out.push(...entries(path.join(w.baseDir, 'db', 'uids')).map((e) => `db/uids/${e}`));
  out.push(...entries(path.join(w.baseDir, 'db', 'supervise')).map((e) => `db/supervise/${e}`));
  // Which instance a leftover was, in the model's eyes, says where to look.
  return out.map((e) => {
    const t = m.instances.get(path.basename(e));
    return t === undefined ? `${e} (not in the model)` : `${e} (${t.app}, ${t.state})`;
  });
}

export function census(w: World, m: Model): Leaks {
  return {
    processes: processesUnder(w.baseDir).map((p) => `${p.pid} ${p.cmd.slice(0, 120)}`),
    mounts: mountsUnder(w.baseDir),
    cgroups: cgroupRootDirs(w.cgroupRoot).flatMap((d) => (existsSync(d) ? readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(d, e.name)) : [])),
    directories: leftoverDirs(w, m),
  };
}

/** Stops every instance and the agent, checks the last invariants, then counts leaks. */
export async function finish(w: World, m: Model, reported: Set<string>): Promise<Leaks> {
  for (const t of m.inState('RUNNING')) await stopOne(w, m, t);
  await reservationsAddUp(w, m);
  await w.settle().catch(() => m.discrepancy('the agent did not answer dea.status at the end'));
  await sleep(2_000); // a late duplicate droplet.exited would show up here
  exitsCounted(w, m, reported, true);
  const code = await w.agent.stop('SIGTERM');
  if (code !== 0) m.discrepancy(`the agent exited with ${String(code)} on SIGTERM`);
  snapshotEmpty(w, m);
  // Processes killed by the agent's stop may take a moment to be reaped.
  await until(() => processesUnder(w.baseDir).length === 0, 5_000);
  return census(w, m);
}

/** A clean stop leaves only crash records in db/instances.json. */
function snapshotEmpty(w: World, m: Model): void {
  try {
    const snap = JSON.parse(readFileSync(path.join(w.baseDir, 'db', 'instances.json'), 'utf8')) as { instances: Array<{ state: string; instanceId: string }> };
    const live = snap.instances.filter((i) => i.state !== 'CRASHED');
    if (live.length > 0) m.discrepancy(`after a clean stop the snapshot still lists ${live.map((i) => `${i.instanceId} ${i.state}`).join(', ')}`);
  } catch (err) {
    m.discrepancy(`the snapshot cannot be read after a clean stop: ${err instanceof Error ? err.message : String(err)}`);
  }
}

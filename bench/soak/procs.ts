/**
 * Finding and killing the processes of the soak's own instances, and nothing else: a
 * process is ours only when its working directory or its command line lies under the
 * soak's base_dir (a directory this run made), or it sits in the soak's own cgroup root.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { detectCgroupHost } from '../../src/backends/container/index.js';

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function cwdOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

export function cmdlineOf(pid: number): string | null {
  const raw = read(`/proc/${pid}/cmdline`);
  return raw === null ? null : raw.split('\0').join(' ').trim();
}

/** Live pids whose cwd or command line is under `baseDir` (the agent's own included). */
export function processesUnder(baseDir: string): Array<{ pid: number; cmd: string }> {
  const prefix = `${baseDir}/`;
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmd = cmdlineOf(pid);
    if (cmd === null || cmd === '') continue; // a zombie or a kernel thread
    if ((cwdOf(pid) ?? '').startsWith(prefix) || cmd.includes(prefix)) out.push({ pid, cmd });
  }
  return out;
}

/** Every hierarchy's directory for the soak's cgroup root (v1 controllers and unified). */
export function cgroupRootDirs(root: string): string[] {
  let host;
  try {
    host = detectCgroupHost();
  } catch {
    return [];
  }
  return [...new Set([...host.v1.values(), ...(host.unified ? [host.unified] : [])])].map((h) => path.join(h, root));
}

/** The pids in one instance's cgroup (the memory hierarchy on v1, else the unified one). */
export function cgroupPids(root: string, instance: string): number[] {
  const host = detectCgroupHost();
  const base = host.v1.get('memory') ?? host.unified;
  if (base === null || base === undefined) return [];
  const text = read(path.join(base, root, instance, 'cgroup.procs')) ?? '';
  return text.split('\n').filter(Boolean).map(Number);
}

export function kill(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** For cleanup after a failure: SIGKILL everything of ours still running under baseDir. */
export function killOurProcesses(baseDir: string): void {
  for (const { pid } of processesUnder(baseDir)) kill(pid);
}

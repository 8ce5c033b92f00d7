import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';

const started: ChildProcess[] = [];

/** Starts `cmd` as the leader of a new process group, so killGroups() also ends what it forks. */
export function startGroup(cmd: string, args: readonly string[]): ChildProcess & { pid: number } {
  const child = spawn(cmd, args, { detached: true, stdio: 'ignore' });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  started.push(child);
  return child as ChildProcess & { pid: number };
}

/** SIGKILLs the process groups this file started (by their leader's pid) and waits for the leaders. */
export async function killGroups(): Promise<void> {
  const all = started.splice(0);
  await Promise.all(all.map((c) => stop(c)));
}

/** SIGKILLs one started group and resolves once its leader has been reaped. */
export function stop(child: ChildProcess): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null;
  const done = exited ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // group already gone
  }
  return done;
}

/** Our own fds that point into /proc/<pid>/ (what ProcReader holds for `pid`). */
export function ownFdsInto(pid: number): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`/proc/${pid}/`)) n++;
    } catch {
      // the fd used by readdir itself is gone by now
    }
  }
  return n;
}

export const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether process `pid` has `file` open (waits on this avoid racing the shell's `exec 3>>file`). */
export function holdsOpen(pid: number, file: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(file);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * A shell-quoted `node -e` command that touches `touchMb` MB, burns CPU until its own CPU
 * time reaches `cpuMs` (or a minute of wall time passes), then idles until killed. Burning
 * to a CPU figure rather than for a fixed wall time reaches the figure however busy the
 * machine is; the wall deadline only keeps a starved burner from running forever.
 */
export function cpuBurner(cpuMs: number, touchMb = 0): string {
  const script = [
    `globalThis.b = Buffer.alloc(${touchMb * 1e6}, 1);`,
    'const end = Date.now() + 60e3;',
    'const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };',
    `while (cpuMs() < ${cpuMs} && Date.now() < end) {}`,
    'setInterval(() => {}, 1e3);',
  ].join(' ');
  return `${process.execPath} -e '${script}'`;
}

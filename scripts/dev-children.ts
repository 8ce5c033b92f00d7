/**
 * The quick start's child processes. Each runs in a session of its own (setsid), so the
 * terminal's Ctrl-C reaches only the quick start, which then stops them in order: the
 * agent first (it says goodbye over NATS and stops its apps), nats-server last.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Resolves with the exit code (128 + n for signal n) once the process is gone. */
  readonly exited: Promise<number>;
  /** The last lines it wrote to stderr, for a failure message. */
  tail(): string;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startChild(name: string, cmd: string, args: string[], onLine: (line: string) => void): Child {
  // detached: setsid(2), a new session and process group, out of the terminal's reach.
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const errLines: string[] = [];
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    for (const line of lines) if (line !== '') onLine(line);
  });
  proc.stderr?.on('data', (d: Buffer) => {
    errLines.push(...d.toString().split('\n').filter(Boolean));
    errLines.splice(0, Math.max(0, errLines.length - 20));
  });
  const exited = new Promise<number>((resolve) => {
    proc.once('error', () => resolve(127));
    proc.once('exit', (code, signal) => resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0)));
  });
  return { name, proc, exited, tail: () => errLines.join('\n') };
}

/** TERM, then KILL after `graceMs`; resolves with the exit code. */
export async function stopChild(child: Child, graceMs: number): Promise<number> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return child.exited;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}

/** Mount points at or below `dir`: a directory with a live mount is never removed. */
function mountsUnder(dir: string): string[] {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
  return mounts.filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** Removes the dev run's directories; says what it did in one line. */
export async function removeDevFiles(dirs: readonly string[]): Promise<string> {
  const kept = dirs.filter((d) => mountsUnder(d).length > 0);
  const removable = dirs.filter((d) => !kept.includes(d));
  for (const dir of removable) await rm(dir, { recursive: true, force: true });
  const removed = removable.length > 0 ? `removed ${removable.join(', ')}` : 'nothing to remove';
  return kept.length > 0 ? `${removed}; kept ${kept.join(', ')} (still mounted: see mount | grep ${kept[0]})` : removed;
}

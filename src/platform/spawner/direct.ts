import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { constants as osc } from 'node:os';
import type { SpawnRequest } from './frames.js';
import { runCommand } from './run-command.js';
import { openAppLog } from '../log-files.js';

export interface ChildExit {
  /** null when a signal ended it */
  readonly code: number | null;
  readonly signal: number | null;
}

export interface Spawned {
  readonly pid: number;
  /**
   * Its exit as its parent saw it; null when nobody can tell any more (the spawn helper
   * that was its parent died first): the caller then watches the process another way.
   */
  readonly exit: Promise<ChildExit | null>;
}

/**
 * Forks the agent itself: what the spawn helper does when it cannot run. Same child as
 * the helper makes: own session, /dev/null in, logs appended (never through a link).
 */
export function directSpawn(req: SpawnRequest): Promise<Spawned> {
  const out = openAppLog(req.stdoutPath);
  let err: number | null = null;
  try {
    err = openAppLog(req.stderrPath);
    const child = spawn(req.file, [...req.args], { cwd: req.cwd, detached: true, stdio: ['ignore', out, err], env: { ...req.env } });
    const exit = new Promise<ChildExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal: signal === null ? null : (osc.signals[signal] ?? null) }));
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', () => {
        child.unref();
        resolve({ pid: child.pid as number, exit });
      });
    });
  } finally {
    closeSync(out);
    if (err !== null) closeSync(err);
  }
}

/** mount(8) in a child: what the helper's mount(2) falls back to. */
export async function directMount(source: string, fstype: string, target: string, data: string): Promise<void> {
  const code = await runCommand('mount', ['-t', fstype, source, '-o', data, target]);
  if (code !== 0) throw new Error(`mount of ${fstype} at ${target} failed (exit ${code})`);
}

/** umount(8) in a child; true when it is unmounted. */
export async function directUmount(target: string, lazy: boolean): Promise<boolean> {
  return (await runCommand('umount', lazy ? ['-l', target] : [target])) === 0;
}

import { spawn } from 'node:child_process';
import { closeSync, openSync, constants as fsc } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Backend, BackendHandle, InstanceProcess, LaunchSpec } from '../types.js';
import { SupervisedProcess } from './supervised-process.js';
import { startTimeTicks } from './proc-tree.js';
import { ProcReader } from '../../monitor/proc-reader.js';

export interface ProcessBackendOptions {
  /** Where per-instance supervisor records live (agent-owned, not app-writable). */
  readonly runDir: string;
  /** The directory holding supervise.sh and start.sh. */
  readonly libexecDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

const BASE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The v1 way: a supervising shell per instance that outlives the agent, a launcher that
 * applies ulimits and drops privileges, the app in a process group of its own.
 */
export class ProcessBackend implements Backend {
  readonly kind = 'process' as const;
  /** One reader for every instance: it keeps a /proc descriptor per sampled process. */
  private readonly reader = new ProcReader();

  constructor(private readonly opts: ProcessBackendOptions) {}

  async launch(spec: LaunchSpec): Promise<InstanceProcess> {
    const runDir = join(this.opts.runDir, spec.instanceId);
    await rm(runDir, { recursive: true, force: true });
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    const child = this.spawnSupervisor(spec, runDir);
    const pid = await spawned(child);
    const handle: BackendHandle = { runDir, supervisorPid: pid, supervisorStart: startTimeTicks(pid) };
    await writeFile(join(runDir, 'handle.json'), JSON.stringify(handle));
    return SupervisedProcess.ofChild(handle, child, this.opts.clock, this.reader);
  }

  async recover(handle: BackendHandle): Promise<InstanceProcess | null> {
    return SupervisedProcess.adopt(handle, this.opts.clock, this.reader);
  }

  private spawnSupervisor(spec: LaunchSpec, runDir: string) {
    const { libexecDir } = this.opts;
    const out = openLog(spec.stdoutPath);
    const err = openLog(spec.stderrPath);
    try {
      return spawn('/bin/bash', [join(libexecDir, 'supervise.sh'), runDir, ...launchArgs(spec)], {
        cwd: spec.dir,
        detached: true, // own session: the instance survives the agent
        stdio: ['ignore', out, err],
        env: envObject(spec),
      });
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }
}

/** Every launcher argument is a number or a fixed word; no message field is among them. */
export function launchArgs(spec: LaunchSpec): string[] {
  const { memMb, diskMb, fds, nproc } = spec.limits;
  const memKb = memMb * 1024;
  // Runtimes reserve far more address space than they use (Node ~0.7 GB): keep -v generous;
  // the monitor enforces the memory quota.
  const vmemKb = Math.max(memKb * 4, memKb + 4 * 1024 * 1024);
  return [
    spec.dir,
    '0',
    String(memKb),
    String(vmemKb),
    String(fds),
    String(nproc),
    String(diskMb * 1024),
    spec.user ? String(spec.user.uid) : '-',
    spec.user ? String(spec.user.gid) : '-',
    spec.mode.kind,
  ];
}

function envObject(spec: LaunchSpec): Record<string, string> {
  const env: Record<string, string> = { PATH: BASE_PATH };
  for (const [k, v] of spec.env) env[k] = v;
  if (spec.mode.kind === 'v2') env.DEA_START_COMMAND = spec.mode.startCommand;
  return env;
}

function openLog(path: string): number {
  // O_NOFOLLOW: a droplet cannot turn its log file into a link to somewhere else.
  return openSync(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o640);
}

function spawned(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve(child.pid as number);
    });
  });
}

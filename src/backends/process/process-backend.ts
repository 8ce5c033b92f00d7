import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Backend, BackendHandle, InstanceProcess, LaunchSpec } from '../types.js';
import { SupervisedProcess } from './supervised-process.js';
import { startTimeTicks } from './proc-tree.js';
import { ProcReader } from '../../monitor/proc-reader.js';
import { appEnv, openAppLog } from '../app-io.js';

export interface ProcessBackendOptions {
  /** Where per-instance supervisor records live (agent-owned, not app-writable). */
  readonly runDir: string;
  /** The directory holding supervise.sh and start.sh. */
  readonly libexecDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * The v1 way: a supervising shell per instance that outlives the agent, a launcher that
 * applies ulimits and drops privileges, the app in a process group of its own.
 */
export class ProcessBackend implements Backend {
  readonly kind = 'process' as const;
  readonly instanceRoot = null;
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

  /**
   * After adoption: supervisor records no snapshot entry explains (`adopted`, by instance
   * id). A supervisor still running there has an app nobody knows: it is ended, its
   * whole process group with it; then the record goes. Container records are not ours.
   */
  async sweep(adopted: ReadonlySet<string>): Promise<void> {
    const ended: string[] = [];
    for (const id of await readdir(this.opts.runDir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{32}$/.test(id) || adopted.has(id)) continue;
      const handle = await readHandle(join(this.opts.runDir, id));
      if (handle === null || handle.kind !== undefined) continue;
      const proc = SupervisedProcess.adopt(handle, this.opts.clock, this.reader);
      if (proc === null) continue;
      await proc.destroy();
      ended.push(id);
    }
    if (ended.length > 0) this.opts.logger.info({ event: 'backend.process.swept', instances: ended }, `ended ${ended.length} processes no snapshot explains`);
  }

  private spawnSupervisor(spec: LaunchSpec, runDir: string) {
    const { libexecDir } = this.opts;
    const out = openAppLog(spec.stdoutPath);
    const err = openAppLog(spec.stderrPath);
    try {
      return spawn('/bin/bash', [join(libexecDir, 'supervise.sh'), runDir, ...launchArgs(spec)], {
        cwd: spec.dir,
        detached: true, // own session: the instance survives the agent
        stdio: ['ignore', out, err],
        env: appEnv(spec),
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


function spawned(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      child.unref();
      resolve(child.pid as number);
    });
  });
}

async function readHandle(runDir: string): Promise<BackendHandle | null> {
  try {
    return JSON.parse(await readFile(join(runDir, 'handle.json'), 'utf8')) as BackendHandle;
  } catch {
    return null;
  }
}

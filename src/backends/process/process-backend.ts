import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../platform/clock.js';
import type { Logger } from '../../platform/logger.js';
import type { Backend, BackendHandle, InstanceProcess, LaunchSpec } from '../types.js';
import { SupervisedProcess } from './supervised-process.js';
import { startTimeTicks } from './proc-tree.js';
import { ProcReader } from '../../monitor/proc-reader.js';
import { appEnv } from '../app-io.js';
import { directSpawn, type Spawned } from '../../platform/spawner/direct.js';
import type { SpawnRequest } from '../../platform/spawner/frames.js';

/** Makes a supervisor: the spawn helper, or a fork of the agent. */
export interface Spawner {
  spawn(req: SpawnRequest): Promise<Spawned>;
}

export interface ProcessBackendOptions {
  /** Where per-instance supervisor records live (agent-owned, not app-writable). */
  readonly runDir: string;
  /** The directory holding supervise.sh, start.sh and spawner/dea-supervise. */
  readonly libexecDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Default: a fork of the agent. */
  readonly spawner?: Spawner;
  /**
   * The supervising parent: `c` (libexec/spawner/dea-supervise, the default where it is
   * built) or `shell` (libexec/supervise.sh). Same arguments, files and semantics; the C
   * one saves a bash start, a subshell and a setpriv exec on every start.
   */
  readonly supervisor?: 'c' | 'shell';
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
  private readonly supervisor: { file: string; args: string[] };

  constructor(private readonly opts: ProcessBackendOptions) {
    const c = join(opts.libexecDir, 'spawner', 'dea-supervise');
    const useC = opts.supervisor === 'c' || (opts.supervisor === undefined && existsSync(c));
    this.supervisor = useC ? { file: c, args: [] } : { file: '/bin/bash', args: [join(opts.libexecDir, 'supervise.sh')] };
  }

  async launch(spec: LaunchSpec): Promise<InstanceProcess> {
    const runDir = join(this.opts.runDir, spec.instanceId);
    await rm(runDir, { recursive: true, force: true });
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    const { pid, exit } = await (this.opts.spawner ?? { spawn: directSpawn }).spawn(this.supervisorRequest(spec, runDir));
    const handle: BackendHandle = { runDir, supervisorPid: pid, supervisorStart: startTimeTicks(pid) };
    await writeFile(join(runDir, 'handle.json'), JSON.stringify(handle));
    return SupervisedProcess.ofSpawn(handle, exit, this.opts.clock, this.reader);
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

  /** In a session of its own (the instance survives the agent), the app's logs as its output. */
  private supervisorRequest(spec: LaunchSpec, runDir: string): SpawnRequest {
    return {
      file: this.supervisor.file,
      args: [...this.supervisor.args, runDir, ...launchArgs(spec)],
      cwd: spec.dir,
      env: appEnv(spec),
      stdoutPath: spec.stdoutPath,
      stderrPath: spec.stderrPath,
    };
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


async function readHandle(runDir: string): Promise<BackendHandle | null> {
  try {
    return JSON.parse(await readFile(join(runDir, 'handle.json'), 'utf8')) as BackendHandle;
  } catch {
    return null;
  }
}

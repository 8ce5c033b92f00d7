import type { BackendHandle, ExitInfo, InstanceProcess } from '../backends/types.js';
import type { InstanceState } from '../instance/types.js';
import { AgentError, ErrorCodes, ExitDescriptions, exitDescriptionOf } from '../errors.js';
import type { Instance } from '../instance/instance.js';
import { APP_OWNED, STOPPABLE } from '../instance/states.js';
import { waitHealthy } from './health-check.js';
import type { LifecycleDeps } from './ports.js';
import { checkEgress, checkStack, prepare, type Prepared } from './prepare.js';

const STATE_FILE_TIMEOUT_MS = 300_000;


interface Run {
  readonly abort: AbortController;
  proc: InstanceProcess | null;
  /** Why the agent itself ended the process (a quota), reported instead of its exit. */
  killedFor: string | null;
  started: Promise<void>;
  stopping: Promise<void> | null;
}

/**
 * Runs instances through their lives: start (prepare, launch, health check), crash and
 * stop. The only caller of instance transitions besides snapshot restore. Knows nothing
 * of NATS: what a transition means to peers is wired elsewhere.
 */
export class InstanceLifecycle {
  private readonly runs = new Map<Instance, Run>();

  constructor(private readonly deps: LifecycleDeps) {}

  /** BORN → STARTING → RUNNING, or CRASHED with the reason as data on the instance. */
  start(inst: Instance): Promise<void> {
    const run: Run = { abort: new AbortController(), proc: null, killedFor: null, started: Promise.resolve(), stopping: null };
    this.runs.set(inst, run);
    inst.transition('STARTING', this.deps.clock.now());
    run.started = this.runStart(inst, run).catch((err: unknown) => this.startFailed(inst, err));
    return run.started;
  }

  /**
   * An instance an earlier agent left, restored in RESUMING, found again through its
   * backend handle (protocol §11.4): RUNNING with the same process if it still runs;
   * CRASHED with its real exit if it ended meanwhile, or if it was caught STARTING
   * (its process, if any, is killed); stopped if it was caught STOPPING.
   */
  async adopt(inst: Instance, saved: InstanceState, handle: BackendHandle | null): Promise<void> {
    if (inst.hostPort !== null) this.deps.ports.claim(inst.hostPort);
    const proc = handle === null ? null : await this.deps.backend.recover(handle);
    const run: Run = { abort: new AbortController(), proc, killedFor: null, started: Promise.resolve(), stopping: null };
    this.runs.set(inst, run);
    const ended = proc?.exitedAlready?.() ?? null;
    if (proc === null || ended !== null || saved === 'STARTING' || saved === 'BORN') {
      if (ended !== null) inst.recordExit(ended.exitStatus, ended.event ?? ExitDescriptions.appExited);
      else if (saved === 'STARTING' || saved === 'BORN') inst.recordExit(-1, ExitDescriptions.failedToStart);
      else inst.recordExit(-1, ExitDescriptions.cannotBeDetermined);
      await this.crash(inst);
      return;
    }
    if (saved === 'STOPPING') {
      inst.transition('STOPPING', this.deps.clock.now());
      run.stopping = this.runStop(inst, run);
      return run.stopping;
    }
    void proc.exited.then((info) => this.exited(inst, info));
    inst.transition('RUNNING', this.deps.clock.now());
  }

  /**
   * A crash record an earlier agent left with its clean-up unfinished: what is left of
   * the process goes, and its directory is retired as a crash's is. Nothing is reported.
   */
  async finishCrash(inst: Instance, handle: BackendHandle): Promise<void> {
    const proc = await this.deps.backend.recover(handle);
    if (proc !== null) {
      await proc.stop(0);
      await proc.destroy();
    }
    if (inst.hostPort !== null) this.deps.ports.release(inst.hostPort);
    await this.deps.dirs.retire(inst.localId).catch(() => undefined);
  }

  /** Born without resources: straight to CRASHED with dea_ng's message. */
  refuse(inst: Instance, description: string): void {
    inst.recordExit(-1, description);
    inst.transition('CRASHED', this.deps.clock.now());
  }

  process(inst: Instance): InstanceProcess | null {
    return this.runs.get(inst)?.proc ?? null;
  }

  /**
   * A quota breach: the reason goes to the app's stderr.log and becomes the exit
   * description; the process is killed at once and the instance ends CRASHED.
   */
  async kill(inst: Instance, reason: string): Promise<void> {
    const run = this.runs.get(inst);
    if (!run?.proc || run.killedFor !== null) return;
    if (!APP_OWNED.has(inst.state)) return;
    run.killedFor = reason;
    this.deps.appFiles.appendLog(this.deps.layout.instanceDir(inst.localId), 'stderr.log', `[dea] ${reason}`);
    this.deps.logger.warn({ event: 'instance.quota.exceeded', instance_id: inst.instanceId, reason }, reason);
    await run.proc.stop(0);
  }

  /** Caps the instance's stdout/stderr; returns the names of the rotated files. */
  rotateLogs(inst: Instance, maxBytes: number): string[] {
    return this.deps.appFiles.rotateLogs(this.deps.layout.instanceDir(inst.localId), maxBytes);
  }

  /** dea.stop: STOPPING → process stopped → STOPPED, directory removed. */
  stop(inst: Instance): Promise<void> {
    if (!STOPPABLE.has(inst.state)) return Promise.resolve();
    const run = this.runs.get(inst);
    if (run?.stopping) return run.stopping;
    if (inst.state === 'BORN' || !run) {
      inst.transition('STOPPED', this.deps.clock.now());
      return this.cleanup(inst, true);
    }
    inst.transition('STOPPING', this.deps.clock.now());
    run.stopping = this.runStop(inst, run);
    return run.stopping;
  }

  /**
   * USR2 (protocol §11.2): a RUNNING instance is marked EVACUATING and keeps serving, its
   * route kept, until a controller stops it or the agent bails out.
   */
  evacuate(inst: Instance): void {
    if (inst.state === 'RUNNING') inst.transition('EVACUATING', this.deps.clock.now());
  }

  /**
   * A stop that has not finished a minute on (dea_ng's STOPPING reaper): tried again, at
   * once with KILL, the grace having long passed. STOPPING → STOPPING restamps the state,
   * so the next retry is a minute later; whichever attempt ends first stops the instance.
   */
  restop(inst: Instance): Promise<void> {
    const run = this.runs.get(inst);
    if (inst.state !== 'STOPPING' || !run?.stopping) return Promise.resolve();
    inst.transition('STOPPING', this.deps.clock.now());
    const again = this.stopProcess(inst, run, 0);
    const either = Promise.any([run.stopping, again]);
    either.catch(() => undefined); // those who wait on the stop see its failure; nobody else must
    run.stopping = either;
    return again;
  }

  private async runStart(inst: Instance, run: Run): Promise<void> {
    const log = this.deps.logger.child({ instance_id: inst.instanceId, app_id: inst.spec.applicationId });
    checkStack(this.deps, inst);
    checkEgress(inst);
    const prepared = await prepare(this.deps, inst, run.abort.signal);
    run.abort.signal.throwIfAborted();
    const proc = await this.deps.backend.launch(prepared.launch);
    run.proc = proc;
    this.deps.launched?.(inst);
    log.info({ event: 'instance.launched', port: inst.hostPort }, 'instance launched');
    void proc.exited.then((info) => this.exited(inst, info));
    const { clock, probe, appFiles, listensOn } = this.deps;
    // A port of the host's own (no network of the instance's) may be another process's.
    const port = inst.hostPort ?? 0;
    const owned = listensOn && !prepared.launch.network ? async () => listensOn(port, await proc.pids()) : undefined;
    const healthy = await waitHealthy(this.healthSpec(inst, prepared), { clock, probe, files: appFiles, owned }, run.abort.signal);
    if (inst.state !== 'STARTING') return;
    if (!healthy) {
      throw new AgentError(ErrorCodes.HEALTH_CHECK_FAILED, 'health check timed out', {
        exitDescription: ExitDescriptions.healthCheckTimeout,
      });
    }
    inst.transition('RUNNING', this.deps.clock.now());
  }

  private healthSpec(inst: Instance, prepared: Prepared) {
    const { info, launch } = prepared;
    const secs = inst.spec.healthCheckTimeoutSecs ?? this.deps.config.defaultHealthCheckTimeoutSecs;
    return {
      host: this.deps.config.localIp,
      port: inst.hostPort ?? 0,
      stateFile: info.stateFile ? { dir: launch.dir, path: info.stateFile } : null,
      checkPort: inst.uris.length > 0,
      timeoutMs: info.stateFile ? STATE_FILE_TIMEOUT_MS : secs * 1000,
    };
  }

  private async startFailed(inst: Instance, err: unknown): Promise<void> {
    // A stop or a crash got there first; they own the instance now.
    if (inst.state !== 'STARTING') return;
    this.deps.logger.warn(
      { event: 'instance.start.failed', instance_id: inst.instanceId, code: (err as AgentError).code, err: String(err) },
      'instance failed to start',
    );
    inst.recordExit(-1, exitDescriptionOf(err));
    await this.crash(inst);
  }

  /** The app's main process ended by itself. */
  private async exited(inst: Instance, info: ExitInfo): Promise<void> {
    if (!APP_OWNED.has(inst.state)) return;
    const run = this.runs.get(inst);
    inst.recordExit(info.exitStatus, run?.killedFor ?? info.event ?? ExitDescriptions.appExited);
    this.deps.logger.info(
      { event: 'instance.exited', instance_id: inst.instanceId, exit_status: info.exitStatus, signal: info.signal },
      'instance process exited',
    );
    run?.abort.abort(new Error('process exited'));
    await this.crash(inst);
  }

  /** Enters CRASHED and clears up; the record and its directory stay for the reaper. */
  async crash(inst: Instance, description?: string): Promise<void> {
    if (description !== undefined) inst.recordExit(inst.exitStatus, description);
    inst.transition('CRASHED', this.deps.clock.now());
    const run = this.runs.get(inst);
    run?.abort.abort(new Error('crashed'));
    if (run?.proc) {
      await run.proc.stop(0);
      await run.proc.destroy();
    }
    await this.cleanup(inst, false);
  }

  private runStop(inst: Instance, run: Run): Promise<void> {
    run.abort.abort(new Error('stopping'));
    return this.stopProcess(inst, run, this.deps.config.instance.stopGraceSecs * 1000);
  }

  private async stopProcess(inst: Instance, run: Run, graceMs: number): Promise<void> {
    await run.started;
    if (run.proc) {
      await run.proc.stop(graceMs);
      await run.proc.destroy();
    }
    // A retried stop: the other attempt may have finished it already.
    if (inst.state !== 'STOPPING') return;
    inst.transition('STOPPED', this.deps.clock.now());
    await this.cleanup(inst, true);
  }

  /** Frees the port; a stopped instance's directory goes, a crashed one's is kept aside. */
  private async cleanup(inst: Instance, removeDir: boolean): Promise<void> {
    this.runs.delete(inst);
    this.deps.ports.release(inst.hostPort);
    if (removeDir) await this.deps.dirs.remove(inst.localId);
    else await this.deps.dirs.retire(inst.localId);
  }
}

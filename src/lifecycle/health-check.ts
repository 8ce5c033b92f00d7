import { sleep, type Clock } from '../platform/clock.js';
import type { AppFiles, Probe } from './ports.js';

export interface HealthCheckSpec {
  readonly host: string;
  readonly port: number;
  /** Relative to the instance dir; takes precedence over the port check (protocol §7.2). */
  readonly stateFile: { readonly dir: string; readonly path: string } | null;
  /** false: a worker without URIs, healthy at once. */
  readonly checkPort: boolean;
  readonly timeoutMs: number;
}

export interface HealthCheckDeps {
  readonly clock: Clock;
  readonly probe: Probe;
  readonly files: Pick<AppFiles, 'readStateFile'>;
  /** Asked after a successful connect: the listener is the instance's own (not another process on the same port). */
  readonly owned?: () => Promise<boolean>;
}

/**
 * Delay before the next attempt. dea_ng probed every 0.5 s, which alone cost a start
 * ~250 ms on average; probing a closed loopback port costs microseconds, so we probe
 * densely while an app usually comes up, then back off to dea_ng's pace.
 */
export function nextDelayMs(elapsedMs: number): number {
  if (elapsedMs < 1_000) return 2;
  if (elapsedMs < 10_000) return 50;
  return 500;
}

/** Resolves true once healthy, false on timeout; rejects when `signal` aborts. */
export async function waitHealthy(spec: HealthCheckSpec, deps: HealthCheckDeps, signal: AbortSignal): Promise<boolean> {
  if (!spec.stateFile && !spec.checkPort) return true;
  const { clock } = deps;
  const started = clock.now();
  for (;;) {
    signal.throwIfAborted();
    if (await attempt(spec, deps)) return true;
    const elapsed = clock.now() - started;
    if (elapsed >= spec.timeoutMs) return false;
    await sleep(clock, Math.min(nextDelayMs(elapsed), spec.timeoutMs - elapsed), signal);
  }
}

async function attempt(spec: HealthCheckSpec, deps: HealthCheckDeps): Promise<boolean> {
  if (spec.stateFile) return stateIsRunning(await deps.files.readStateFile(spec.stateFile.dir, spec.stateFile.path));
  if (!(await deps.probe(spec.host, spec.port))) return false;
  return deps.owned ? deps.owned() : true;
}

/** The app says it is up by writing `{"state": "RUNNING"}`; anything else is not yet. */
export function stateIsRunning(text: string | null): boolean {
  if (text === null) return false;
  try {
    return (JSON.parse(text) as { state?: unknown } | null)?.state === 'RUNNING';
  } catch {
    return false;
  }
}

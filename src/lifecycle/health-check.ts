import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, type Clock } from '../platform/clock.js';

export type Probe = (host: string, port: number) => Promise<boolean>;

export interface HealthCheckSpec {
  readonly host: string;
  readonly port: number;
  /** Relative to the instance dir; takes precedence over the port check (protocol §7.2). */
  readonly stateFile: { readonly dir: string; readonly path: string } | null;
  /** false: a worker without URIs, healthy at once. */
  readonly checkPort: boolean;
  readonly timeoutMs: number;
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
export async function waitHealthy(spec: HealthCheckSpec, clock: Clock, probe: Probe, signal: AbortSignal): Promise<boolean> {
  if (!spec.stateFile && !spec.checkPort) return true;
  const started = clock.now();
  for (;;) {
    signal.throwIfAborted();
    if (await attempt(spec, probe)) return true;
    const elapsed = clock.now() - started;
    if (elapsed >= spec.timeoutMs) return false;
    await sleep(clock, Math.min(nextDelayMs(elapsed), spec.timeoutMs - elapsed), signal);
  }
}

async function attempt(spec: HealthCheckSpec, probe: Probe): Promise<boolean> {
  if (spec.stateFile) return stateIsRunning(join(spec.stateFile.dir, spec.stateFile.path));
  return probe(spec.host, spec.port);
}

async function stateIsRunning(path: string): Promise<boolean> {
  try {
    const doc = JSON.parse(await readFile(path, 'utf8')) as { state?: unknown };
    return doc.state === 'RUNNING';
  } catch {
    return false;
  }
}

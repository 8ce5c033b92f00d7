/**
 * A small fleet for deactl's tests: one real nats-server and real agents (`bin/dea`, the
 * process backend to keep them cheap) in different zones, and a way to run `bin/deactl`
 * against them as a user would. close() removes everything, also after a failure.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type AgentHandle } from '../../support/agent-process.js';
import { cleanUp } from '../../support/cleanup.js';
import { startNatsServer, type NatsServerHandle } from '../../support/nats-server.js';

export const DEACTL_BIN = new URL('../../../bin/deactl', import.meta.url).pathname;
export const FIXTURES = new URL('../../../fixtures/apps/', import.meta.url).pathname;

export interface AgentSpec {
  readonly zone: string;
  readonly memoryMb?: number;
  readonly diskMb?: number;
  readonly stacks?: readonly string[];
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Fleet {
  readonly nats: NatsServerHandle;
  readonly agents: AgentHandle[];
  /** deactl's own state directory (DEACTL_HOME), removed by close(). */
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  deactl(args: readonly string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** `deactl … --json`, parsed; fails the test with deactl's stderr when it exits non-zero. */
  json<T = any>(args: readonly string[]): Promise<T>;
  close(): Promise<void>;
}

function agentConfig(spec: AgentSpec): Record<string, unknown> {
  return {
    placement_properties: { zone: spec.zone },
    resources: { memory_mb: spec.memoryMb ?? 512, disk_mb: spec.diskMb ?? 2048 },
    stacks: (spec.stacks ?? ['cflinuxfs4']).map((name) => ({ name, package_path: '/' })),
    backend: { kind: 'process' },
  };
}

export function runDeactl(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(DEACTL_BIN, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export async function startFleet(specs: readonly AgentSpec[]): Promise<Fleet> {
  const undo: Array<() => Promise<unknown>> = [];
  const close = () => cleanUp(...undo.splice(0).reverse());
  try {
    const nats = await startNatsServer();
    undo.push(() => nats.stop());
    const home = mkdtempSync(join(tmpdir(), 'deactl-home-'));
    undo.push(() => rm(home, { recursive: true, force: true }));
    const agents: AgentHandle[] = [];
    // One after the other: three agents booting at once on two busy cores race their timers.
    for (const spec of specs) {
      const agent = await startAgent({ natsUrl: nats.url, config: agentConfig(spec) });
      undo.push(() => agent.dispose());
      agents.push(agent);
    }
    const env = { ...process.env, DEA_NATS: nats.url, DEACTL_HOME: home, DEA_RUN_SOURCES: '1' };
    const deactl = (args: readonly string[], opts: { timeoutMs?: number } = {}) => runDeactl(args, env, opts.timeoutMs);
    return {
      nats,
      agents,
      home,
      env,
      deactl,
      async json(args) {
        const r = await deactl([...args, '--json']);
        if (r.code !== 0) throw new Error(`deactl ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
        return JSON.parse(r.stdout);
      },
      close,
    };
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

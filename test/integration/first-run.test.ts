/**
 * What a new user meets first, against the real `bin/dea`: the agent started before its
 * NATS is up says what it is connecting to and why it cannot, at a readable rate; TERM or
 * INT while it waits ends in a clean exit (0, pid file gone); NATS coming up later is
 * picked up; connection changes are logged at info.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { getFreePort, waitForPort } from '../support/ports.js';

const BIN = new URL('../../bin/dea', import.meta.url).pathname;
const NATS_BIN = process.env['NATS_SERVER_BIN'] ?? '/usr/sbin/nats-server';

interface LogLine {
  event?: string;
  level?: string;
  msg?: string;
  [key: string]: unknown;
}

interface Spawned {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  stderr(): string;
  waitFor(pred: (l: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: ChildProcess[] = [];
const scratch: string[] = [];

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
  }
  for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Runs a program, keeping its stdout as JSON lines (plain text kept as `msg`). */
function run(cmd: string, args: string[]): Spawned {
  // DEA_RUN_SOURCES: the code under test, never a build that merely looks fresh.
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEA_RUN_SOURCES: '1' } });
  started.push(child);
  const lines: LogLine[] = [];
  let buf = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ msg: text });
      }
    }
  });
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = async (pred: (l: LogLine) => boolean, what: string, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`no ${what} within ${timeoutMs} ms (exit ${child.exitCode}); stderr: ${err.slice(-1500)}; stdout: ${JSON.stringify(lines.slice(-10))}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  return { child, lines, stderr: () => err, waitFor, exited };
}

/** A config for a loopback agent whose only NATS server is `nats://127.0.0.1:<port>`. */
function writeConfig(port: number): { path: string; baseDir: string; pidFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dea-first-run-'));
  scratch.push(dir);
  const baseDir = join(dir, 'base');
  const config = {
    base_dir: baseDir,
    local_ip: '127.0.0.1',
    nats_servers: [`nats://127.0.0.1:${port}`],
    logging: { level: 'debug' },
    status: { host: '127.0.0.1', port: 0, user: 'u', password: 'p' },
    backend: { kind: 'process' },
  };
  const path = join(dir, 'dea.yml');
  writeFileSync(path, yaml.dump(config));
  return { path, baseDir, pidFile: join(baseDir, 'dea.pid') };
}

function startNatsOn(port: number): Spawned {
  return run(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port)]);
}

const failedFor = (url: string) => (l: LogLine) => l.event === 'bus.connect.failed' && l['server'] === url;

describe('the agent started before NATS is reachable', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('says where it connects, reports each failure at a sane rate, and exits 0 on %s', async (signal) => {
    const port = await getFreePort();
    const url = `nats://127.0.0.1:${port}`;
    const cfg = writeConfig(port);
    const dea = run(BIN, ['--config', cfg.path]);

    const connecting = await dea.waitFor((l) => l.event === 'bus.connecting', 'bus.connecting');
    expect(connecting).toMatchObject({ level: 'info', servers: [url] });
    const first = await dea.waitFor(failedFor(url), 'a first bus.connect.failed');
    expect(first).toMatchObject({ level: 'warn', error: 'CONNECTION_REFUSED', attempt: 1 });
    expect(first.msg).toContain(url);
    const second = await dea.waitFor((l) => failedFor(url)(l) && l['attempt'] === 2, 'a second bus.connect.failed');
    // The client retries every half second; the log reports at most once a second, backing off.
    const gapMs = Date.parse(String(second['time'])) - Date.parse(String(first['time']));
    expect(gapMs).toBeGreaterThanOrEqual(1_500);
    expect(dea.lines.filter(failedFor(url))).toHaveLength(2);
    expect(existsSync(cfg.pidFile)).toBe(true);

    dea.child.kill(signal);
    expect(await dea.exited).toEqual({ code: 0, signal: null });
    expect(dea.lines.find((l) => l.event === 'agent.signal')).toMatchObject({ signal });
    expect(dea.lines.at(-1)).toMatchObject({ event: 'agent.exited' });
    expect(dea.lines.some((l) => l.event === 'bus.connected')).toBe(false);
    expect(existsSync(cfg.pidFile)).toBe(false);
    expect(dea.stderr()).toBe('');
  });

  it('connects once NATS comes up, and logs losing and regaining it at info', async () => {
    const port = await getFreePort();
    const url = `nats://127.0.0.1:${port}`;
    const cfg = writeConfig(port);
    const dea = run(BIN, ['--config', cfg.path]);
    await dea.waitFor(failedFor(url), 'bus.connect.failed');

    let nats = startNatsOn(port);
    await waitForPort(port, { timeoutMs: 10_000 });
    expect(await dea.waitFor((l) => l.event === 'bus.connected', 'bus.connected')).toMatchObject({ level: 'info', server: `127.0.0.1:${port}` });
    await dea.waitFor((l) => l.event === 'agent.started', 'agent.started');

    nats.child.kill('SIGTERM');
    await nats.exited;
    expect(await dea.waitFor((l) => l.event === 'bus.disconnect', 'bus.disconnect')).toMatchObject({ level: 'info' });
    expect(await dea.waitFor((l) => l.event === 'bus.reconnecting', 'bus.reconnecting')).toMatchObject({ level: 'info' });

    nats = startNatsOn(port);
    expect(await dea.waitFor((l) => l.event === 'bus.reconnect', 'bus.reconnect')).toMatchObject({ level: 'info' });

    dea.child.kill('SIGTERM');
    expect(await dea.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(cfg.pidFile)).toBe(false);
    nats.child.kill('SIGTERM');
    await nats.exited;
  });
});

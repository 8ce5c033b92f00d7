import { spawn, type ChildProcess } from 'node:child_process';
import { canConnect, getFreePort } from './ports.js';
import { signalOnExit } from './exit-signal.js';

export interface NatsServerOptions {
  /** Require this user (with `pass`) from every client. */
  user?: string;
  pass?: string;
  /** Binary to run; defaults to $NATS_SERVER_BIN, then /usr/sbin/nats-server. */
  bin?: string;
  /** How long to wait for the server to accept connections (default 10 s). */
  readyTimeoutMs?: number;
  /**
   * The client port to listen on (default: a free one, retried when taken). A fixed port
   * is tried once: its caller (a cluster whose routes name it) cannot just pick another.
   */
  port?: number;
  /** More command-line arguments (cluster, routes, monitoring), after the defaults. */
  args?: readonly string[];
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` (no credentials). */
  readonly url: string;
  /** `url` with `user:pass@` when the server requires auth, else the same as `url`. */
  readonly authUrl: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  /** Pid of the current server process (undefined while stopped). */
  readonly pid: number | undefined;
  /** The server's recent log lines (stderr), newest last. */
  logs(): string[];
  /** TERM, then KILL after 3 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
  /** stop() then start again on the same port (for reconnect tests). */
  restart(): Promise<void>;
}

const DEFAULT_BIN = '/usr/sbin/nats-server';
const MAX_LOG_LINES = 500;


interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Spawns one server on `port` and waits until it accepts TCP connections. Rejects (with
 * the server's log) if the process exits first, e.g. because the port is taken.
 */
async function spawnOn(port: number, opts: NatsServerOptions, log: string[]): Promise<Running> {
  const bin = opts.bin ?? process.env['NATS_SERVER_BIN'] ?? DEFAULT_BIN;
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (opts.user !== undefined) args.push('--user', opts.user);
  if (opts.pass !== undefined) args.push('--pass', opts.pass);
  if (opts.args !== undefined) args.push(...opts.args);

  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  signalOnExit(child, 'SIGKILL');

  let exitInfo: string | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = `code ${String(code)}, signal ${String(signal)}`;
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  });
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      log.push(line);
      if (log.length > MAX_LOG_LINES) log.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 10_000);
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${bin}: ${spawnError.message}`);
    if (exitInfo !== undefined) {
      throw new Error(`nats-server on port ${port} exited before it was ready (${exitInfo}):\n${log.slice(-10).join('\n')}`);
    }
    if (await canConnect(port)) break;
    if (Date.now() >= deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`nats-server on port ${port} not ready within ${opts.readyTimeoutMs ?? 10_000} ms:\n${log.slice(-10).join('\n')}`);
    }
    await sleep(25);
  }
  // Accepting TCP may precede the process being fully set up, but not by much; a connect
  // that raced the log line would just get INFO a moment later.
  if (exitInfo !== undefined) {
    throw new Error(`nats-server on port ${port} exited right after start (${exitInfo}):\n${log.slice(-10).join('\n')}`);
  }
  return { child, exited };
}

async function terminate(run: Running): Promise<void> {
  const { child, exited } = run;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts a real nats-server on 127.0.0.1 with a random free port (retrying with another
 * port when the chosen one turns out to be taken). Stop it with `handle.stop()`; any server
 * still running when the test process exits is killed.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const log: string[] = [];
  let port = 0;
  let current: Running | undefined;
  let lastError: unknown;
  const attempts = opts.port === undefined ? 5 : 1;
  for (let attempt = 0; attempt < attempts && current === undefined; attempt++) {
    port = opts.port ?? (await getFreePort());
    try {
      current = await spawnOn(port, opts, log);
    } catch (err) {
      lastError = err;
    }
  }
  if (current === undefined) throw lastError instanceof Error ? lastError : new Error(String(lastError));

  const url = `nats://127.0.0.1:${port}`;
  const authUrl =
    opts.user !== undefined
      ? `nats://${encodeURIComponent(opts.user)}${opts.pass !== undefined ? `:${encodeURIComponent(opts.pass)}` : ''}@127.0.0.1:${port}`
      : url;
  let stopping: Promise<void> | undefined;

  const stop = async (): Promise<void> => {
    const run = current;
    if (run === undefined) return;
    stopping ??= terminate(run).finally(() => {
      if (current === run) current = undefined;
      stopping = undefined;
    });
    await stopping;
  };

  const handle: NatsServerHandle = {
    url,
    authUrl,
    port,
    user: opts.user,
    pass: opts.pass,
    get pid() {
      return current?.child.pid;
    },
    logs: () => [...log],
    stop,
    async restart() {
      await stop();
      // The same port must be reused; it may linger for a moment after the old process.
      let err: unknown;
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          current = await spawnOn(port, opts, log);
          return;
        } catch (e) {
          err = e;
          await sleep(100);
        }
      }
      throw err instanceof Error ? err : new Error(String(err));
    },
  };
  return handle;
}

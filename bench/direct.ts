/**
 * Reference figures taken without the agent: the sample app's own boot time, and what
 * extracting the synthetic droplet and booting 20 apps cost on this machine at best.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { getFreePort } from '../test/support/ports.js';
import { epochNow } from './stats.js';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One connect attempt; resolves true on accept, false on refusal (immediate on loopback). */
function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

/** Probes `port` every `everyMs` until it accepts; rejects if `child` exits or time runs out. */
async function waitAccepting(port: number, child: ChildProcess, everyMs: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await tryConnect(port)) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`app exited (${child.exitCode ?? child.signalCode}) before accepting on ${port}`);
    if (Date.now() > deadline) throw new Error(`app did not accept on ${port} within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await gone;
}

/**
 * A clean environment like the one the agent gives an app (PATH, HOME, TMPDIR, PORT), not
 * this process's: the ambient environment here carries NODE_EXTRA_CA_CERTS, which makes
 * every Node start read and parse the CA bundle (≈70-90 ms on this machine), a cost the
 * agent's apps never pay.
 */
function appEnv(appDir: string, port: number): Record<string, string> {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: appDir, TMPDIR: os.tmpdir(), PORT: String(port) };
}

export type BootCommand = 'node server.js' | './startup -p PORT';

/**
 * ms from spawn() to the first accepted TCP connection, the app run directly in `appDir`
 * with PORT set (the droplet's own `startup` script finds node on PATH as it does under
 * the agent), probing every millisecond. The app is killed afterwards.
 */
export async function directBootOnce(appDir: string, command: BootCommand): Promise<number> {
  const port = await getFreePort();
  const [file, args] =
    command === 'node server.js' ? [process.execPath, ['server.js']] : [path.join(appDir, 'startup'), ['-p', String(port)]];
  const t0 = epochNow();
  const child = spawn(file, args, { cwd: appDir, env: appEnv(appDir, port), stdio: 'ignore' });
  try {
    await waitAccepting(port, child, 1);
    return epochNow() - t0;
  } finally {
    await kill(child);
  }
}

/** Wall ms for `n` apps started at once (each with its own PORT) until all accept. */
export async function concurrentBoot(appDir: string, n: number): Promise<number> {
  const ports = await Promise.all(Array.from({ length: n }, () => getFreePort()));
  const t0 = epochNow();
  const children = ports.map((port) => spawn(process.execPath, ['server.js'], { cwd: appDir, env: appEnv(appDir, port), stdio: 'ignore' }));
  try {
    await Promise.all(ports.map((port, i) => waitAccepting(port, children[i]!, 1, 30_000)));
    return epochNow() - t0;
  } finally {
    await Promise.all(children.map(kill));
  }
}

function tarExtract(tgz: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['-xzf', tgz, '-C', dest, '--no-same-owner'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code}: ${err.slice(0, 500)}`))));
  });
}

/**
 * GNU tar on the droplet: `single` one-at-a-time extractions (ms each), then `parallel`
 * extractions started together (wall ms). Every target directory is removed again.
 */
export async function tarReference(tgz: string, single: number, parallel: number): Promise<{ singleMs: number[]; parallelMs: number }> {
  const root = await mkdtemp(path.join(path.dirname(tgz), 'tar-ref-'));
  try {
    const singleMs: number[] = [];
    for (let i = 0; i < single; i++) {
      const dest = path.join(root, `s${i}`);
      await mkdir(dest);
      const t0 = epochNow();
      await tarExtract(tgz, dest);
      singleMs.push(epochNow() - t0);
    }
    if (parallel === 0) return { singleMs, parallelMs: Number.NaN };
    const dests = Array.from({ length: parallel }, (_, i) => path.join(root, `p${i}`));
    await Promise.all(dests.map((d) => mkdir(d)));
    const t0 = epochNow();
    await Promise.all(dests.map((d) => tarExtract(tgz, d)));
    const parallelMs = epochNow() - t0;
    return { singleMs, parallelMs };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

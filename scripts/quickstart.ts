/**
 * The README's first line: a local nats-server, the agent on config/dev.yml, and the
 * sample app pushed to it the way a cloud controller would. Ctrl-C (at any point) stops
 * the agent, then nats-server, and removes the run's files: one line per step.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { connect, StringCodec, type NatsConnection } from 'nats';
import * as tar from 'tar';
import { removeDevFiles, startChild, stopChild, type Child } from './dev-children.js';

const root = new URL('..', import.meta.url).pathname;
const CONFIG = join(root, 'config/dev.yml');
/** Where the quick start mounts its own LXCFS (config/dev.yml's lxcfs_dir). */
const LXCFS_DIR = '/tmp/dea-dev-lxcfs';
const NATS_PORT = 4222;
/** Above the agent's own 60 s shutdown deadline. */
const AGENT_GRACE_MS = 70_000;
const sc = StringCodec();

const say = (line: string) => process.stdout.write(`[dev] ${line}\n`);
const state = {
  stopping: false,
  agent: undefined as Child | undefined,
  nats: undefined as Child | undefined,
  lxcfs: undefined as Child | undefined,
  nc: undefined as NatsConnection | undefined,
  dirs: [(yaml.load(readFileSync(CONFIG, 'utf8')) as { base_dir: string }).base_dir],
};

/** DEA_DEV_VERBOSE=1 shows every agent line, debug and shutdown included. */
const verbose = process.env['DEA_DEV_VERBOSE'] === '1';

/** The agent's JSON log as one short line each; only warnings and errors once stopping. */
function showAgentLine(line: string): void {
  try {
    const j = JSON.parse(line) as { event?: string; msg?: string; level?: string };
    const quiet = j.level === 'debug' || (state.stopping && j.level === 'info');
    if (quiet && !verbose) return;
    console.log(`[agent] ${j.event ?? ''} ${j.msg ?? ''}`);
  } catch {
    console.log(`[agent] ${line}`);
  }
}

function agentStopped(code: number): string {
  if (code === 0) return 'agent stopped';
  // TERM before the agent had set up its own handling: it had not started anything yet.
  if (code === 128 + 15) return 'agent stopped before it was up';
  return `agent stopped (exit ${code})`;
}

async function shutdown(why: string, code: number): Promise<never> {
  if (!state.stopping) {
    state.stopping = true;
    say(`${why}: stopping the agent, then nats-server`);
    await state.nc?.close().catch(() => undefined);
    if (state.agent) say(agentStopped(await stopChild(state.agent, AGENT_GRACE_MS)));
    // TERM makes LXCFS unmount itself; the apps that read it are gone with the agent.
    if (state.lxcfs) {
      await stopChild(state.lxcfs, 10_000);
      say('LXCFS stopped');
    }
    // nats-server exits 1 on TERM by design; there is nothing to report but that it is gone.
    if (state.nats) {
      await stopChild(state.nats, 5_000);
      say('nats-server stopped');
    }
    say(await removeDevFiles(state.dirs));
    process.exit(code);
  }
  return new Promise<never>(() => undefined);
}

/** Starts nats-server on 4222, or uses the one already there. */
async function startNats(): Promise<void> {
  const nats = startChild('nats', 'nats-server', ['-a', '127.0.0.1', '-p', String(NATS_PORT)], () => undefined);
  state.nats = nats;
  for (;;) {
    try {
      state.nc = await connect({ servers: `nats://127.0.0.1:${NATS_PORT}`, reconnect: false });
      return;
    } catch {
      if (state.stopping) return;
      if (nats.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  state.nats = undefined;
  try {
    state.nc = await connect({ servers: `nats://127.0.0.1:${NATS_PORT}` });
    say(`using the nats-server already on 127.0.0.1:${NATS_PORT}`);
  } catch {
    throw new Error(`nats-server did not start:\n${nats.tail()}`);
  }
}

/**
 * An LXCFS of the quick start's own at LXCFS_DIR, for the container backend (as root with
 * the lxcfs package; without either the agent goes on without it and says so).
 */
async function startLxcfs(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  mkdirSync(LXCFS_DIR, { recursive: true });
  state.dirs.push(LXCFS_DIR, `${LXCFS_DIR}.pid`);
  const lxcfs = startChild('lxcfs', 'lxcfs', ['-f', '-p', `${LXCFS_DIR}.pid`, LXCFS_DIR], () => undefined);
  state.lxcfs = lxcfs;
  for (let i = 0; i < 100 && !state.stopping && lxcfs.proc.exitCode === null; i++) {
    if (readFileSync('/proc/self/mounts', 'utf8').includes(` ${LXCFS_DIR} fuse.lxcfs `)) {
      say(`LXCFS mounted at ${LXCFS_DIR}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  say(`LXCFS did not mount (${lxcfs.tail() || 'no output'}); apps see the host's /proc`);
}

async function packSampleApp(dir: string): Promise<{ path: string; sha1: string }> {
  const path = join(dir, 'sample-app.tgz');
  await tar.c({ gzip: true, file: path, cwd: join(root, 'fixtures/apps/sample-app'), portable: true }, ['.']);
  const sha1 = createHash('sha1').update(readFileSync(path)).digest('hex');
  return { path, sha1 };
}

async function main(): Promise<void> {
  // Made first, so that a stop at any later moment knows every directory to remove.
  const dropletDir = mkdtempSync(join(tmpdir(), 'dea-dev-droplets-'));
  state.dirs.push(dropletDir);
  const droplet = await packSampleApp(dropletDir);
  if (state.stopping) return;
  await startNats();
  // Never start a child the stop has already gone past: detached, it would outlive us.
  if (state.stopping) return;
  await startLxcfs();
  if (state.stopping) return;
  const nc = state.nc!;
  const adverts = nc.subscribe('dea.advertise', { max: 1 });
  const agent = startChild('agent', join(root, 'bin/dea'), ['--config', CONFIG], showAgentLine);
  state.agent = agent;
  void agent.exited.then((code) => shutdown(`the agent exited by itself (exit ${code})`, 1));
  let deaId = '';
  for await (const m of adverts) deaId = (JSON.parse(sc.decode(m.data)) as { id: string }).id;
  // A stop closes the connection, which ends the wait above without an advert.
  if (state.stopping) return;
  const files = createServer((_req, res) => createReadStream(droplet.path).pipe(res)).listen(0, '127.0.0.1');
  await new Promise((r) => files.once('listening', r));
  files.unref();
  const port = (files.address() as { port: number }).port;

  const routes = nc.subscribe('router.register', { max: 1 });
  nc.publish(`dea.${deaId}.start`, sc.encode(JSON.stringify({
    droplet: 'sample-app', name: 'sample-app', version: 'v1', index: 0, uris: ['sample-app.dev.local'],
    sha1: droplet.sha1, executableUri: `http://127.0.0.1:${port}/sample-app.tgz`, stack: 'cflinuxfs4',
    limits: { mem: 128, disk: 256, fds: 1024 }, services: [], env: ['GREETING=hello'], cc_partition: 'default',
  })));
  for await (const m of routes) {
    const reg = JSON.parse(sc.decode(m.data)) as { uris: string[]; host: string; port: number };
    console.log(`\nrouter.register: ${reg.uris.join(',')} -> ${reg.host}:${reg.port}`);
    const body = await (await fetch(`http://${reg.host}:${reg.port}/`)).text();
    console.log(`GET http://${reg.host}:${reg.port}/ ->\n${body.slice(0, 1000)}\n`);
    console.log('The sample app is running. Press Ctrl-C to stop the agent and nats-server.');
  }
}

// A terminal or pipe that goes away (Ctrl-C also ends a `| tee`) must not end this script
// before it has stopped what it started: the children live in sessions of their own.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

// Before anything starts: a Ctrl-C at any moment gets the same orderly stop. npm forwards
// the terminal's SIGINT as well, so the second one is ignored rather than fatal.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig === 'SIGINT' ? 'Ctrl-C' : sig, 0));

main().catch((err: unknown) => {
  // Once stopping, a step cut short (a closed connection) is expected, not a failure.
  if (state.stopping) return;
  console.error(err);
  void shutdown('the quick start failed', 1);
});

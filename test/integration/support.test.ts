import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { kernelConstants } from '../../src/monitor/kernel.js';
import { connectTestClient, type TestBusClient } from '../support/bus-client.js';
import { buildDroplet, buildSyntheticDroplet, serveDroplets, FIXTURE_APPS, FIXTURE_APPS_DIR } from '../support/droplets.js';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server.js';
import { canConnect, getFreePort, waitForPort } from '../support/ports.js';
import { isRoot, requireHost } from './preconditions.js';

const run = promisify(execFile);
const NOBODY = 65534;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'dea-support-'));
  // Let `nobody` traverse into instance directories below.
  await chmod(scratch, 0o755);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
describe('nats-server and the test bus client', () => {
  const servers: NatsServerHandle[] = [];
  const clients: TestBusClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  it('starts on a free port, stops, and restarts on the same port with clients reconnecting', async () => {
    const server = await startNatsServer();
    servers.push(server);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(await canConnect(server.port)).toBe(true);

    const client = await connectTestClient(server.url);
    clients.push(client);
    const rec = client.record('ping.>');
    await rec.ready();
    client.publish('ping.one', { n: 1 });
    const first = await rec.waitFor((m) => m.data.n === 1, 15_000);
    expect(first.subject).toBe('ping.one');

    const oldPid = server.pid;
    await server.restart();
    expect(server.pid).not.toBe(oldPid);
    expect(await canConnect(server.port)).toBe(true);
    // The client reconnects by itself and its subscription is replayed.
    await until(async () => {
      client.publish('ping.two', { n: 2 });
      await new Promise((r) => setTimeout(r, 100));
      return rec.filter((m) => m.data.n === 2).length > 0;
    }, 10_000, 'a message after the restart');

    await server.stop();
    expect(server.pid).toBeUndefined();
    expect(await canConnect(server.port)).toBe(false);
    if (oldPid !== undefined) expect(alive(oldPid)).toBe(false);
    await server.stop(); // idempotent
  });

  it('request() collects one reply per responder, early at `expect`, else until the timeout', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const responders = await connectTestClient(server.url, { name: 'responders' });
    const client = await connectTestClient(server.url);
    clients.push(responders, client);
    for (const index of [0, 1, 2]) {
      responders.respond<{ droplet: string }>('dea.find.droplet', (data) => ({ droplet: data.droplet, index }));
    }
    responders.respond('nobody.answers', () => undefined);
    await responders.flush();

    // Returns at the third reply, well before its (long) timeout: how soon is not the point.
    const t0 = Date.now();
    const three = await client.request('dea.find.droplet', { droplet: 'abc' }, { expect: 3, timeoutMs: 20_000 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(three.map((r) => r.index).sort()).toEqual([0, 1, 2]);
    expect(three.every((r) => r.droplet === 'abc')).toBe(true);

    const t1 = Date.now();
    const upTo5 = await client.request('dea.find.droplet', { droplet: 'x' }, { expect: 5, timeoutMs: 400 });
    expect(upTo5).toHaveLength(3);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(350);

    expect(await client.request('nobody.answers', {}, { timeoutMs: 200 })).toEqual([]);
    expect(await client.request('no.subscribers', 'plain text', { timeoutMs: 200, expect: 1 })).toEqual([]);
  });

  it('recorders see messages received before waitFor, count, clear, and keep raw text', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const client = await connectTestClient(server.url);
    clients.push(client);
    const rec = client.record('router.*');
    await rec.ready();
    client.publish('router.register', { uris: ['a.example'] });
    client.publish('router.unregister', 'not json');
    client.publish('router.register', { uris: ['b.example'] });
    await client.flush();
    await rec.waitForCount(3, undefined, 15_000);

    const early = await rec.waitFor((m) => m.subject === 'router.register', 10);
    expect(early.data).toEqual({ uris: ['a.example'] });
    expect(early.receivedAt).toBeLessThanOrEqual(Date.now());
    const text = await rec.waitFor((m) => m.subject === 'router.unregister', 10);
    expect(text.data).toBe('not json');
    expect(text.raw).toBe('not json');
    expect(rec.filter((m) => m.subject === 'router.register')).toHaveLength(2);

    await expect(rec.waitFor((m) => m.subject === 'router.never', 150)).rejects.toThrow(/timed out after 150 ms/);
    await expect(rec.expectNone((m) => m.subject === 'router.unregister', 10)).rejects.toThrow(/expected no matching/);

    rec.clear();
    expect(rec.all()).toEqual([]);
    const later = rec.waitFor((m) => m.data?.uris?.[0] === 'c.example', 15_000);
    client.publish('router.register', { uris: ['c.example'] });
    expect((await later).subject).toBe('router.register');
    await rec.expectNone((m) => m.subject === 'router.unregister', 50);

    const pending = rec.waitFor((m) => m.subject === 'router.never', 5000);
    rec.stop();
    await expect(pending).rejects.toThrow(/stopped/);
  });

  it('requires the user and password when started with them', async () => {
    const server = await startNatsServer({ user: 'dea', pass: 's3cr:et' });
    servers.push(server);
    expect(server.authUrl).toBe(`nats://dea:s3cr%3Aet@127.0.0.1:${server.port}`);
    await expect(connectTestClient(server.url)).rejects.toThrow();
    await expect(connectTestClient(server.url, { user: 'dea', pass: 'wrong' })).rejects.toThrow();
    const viaUrl = await connectTestClient(server.authUrl);
    const viaOpts = await connectTestClient(server.url, { user: 'dea', pass: 's3cr:et' });
    clients.push(viaUrl, viaOpts);
    viaOpts.respond('hello', () => ({ ok: true }));
    await viaOpts.flush();
    expect(await viaUrl.request('hello', {}, { expect: 1, timeoutMs: 2000 })).toEqual([{ ok: true }]);
  });
});

// ---------------------------------------------------------------------------------------
describe('droplets', () => {
  it('every fixture named in FIXTURE_APPS exists, and v1 ones have an executable startup', async () => {
    for (const name of FIXTURE_APPS) {
      const dir = path.join(FIXTURE_APPS_DIR, name);
      expect(existsSync(dir), name).toBe(true);
      if (name === 'serves-http-v2') {
        expect(existsSync(path.join(dir, 'startup'))).toBe(false);
        continue;
      }
      const st = await stat(path.join(dir, 'startup'));
      expect(st.mode & 0o111, `${name}/startup is executable`).toBe(0o111);
    }
  });

  it('buildDroplet makes a gzipped tarball whose SHA-1 and size match sha1sum and stat', async () => {
    const out = path.join(scratch, 'build');
    const built = await buildDroplet('serves-http', out);
    expect(built.path).toBe(path.join(out, 'serves-http.tgz'));
    const { stdout } = await run('sha1sum', [built.path]);
    expect(stdout.split(/\s+/)[0]).toBe(built.sha1);
    expect(built.sha1).toMatch(/^[0-9a-f]{40}$/);
    expect((await stat(built.path)).size).toBe(built.size);

    const listing = (await run('tar', ['-tvzf', built.path])).stdout;
    expect(listing).toMatch(/^-rwxr-xr-x .* \.\/startup$/m);
    expect(listing).toMatch(/^-rw-r--r-- .* \.\/server\.js$/m);
    expect(listing).toMatch(/^-rw-r--r-- .* \.\/fixture-core\.js$/m);

    // Same tree, same bytes; an extra file gives another SHA-1.
    const again = await buildDroplet('serves-http', out, { fileName: 'again.tgz' });
    expect(again.sha1).toBe(built.sha1);
    const variant = await buildDroplet('serves-http', out, { fileName: 'variant.tgz', extraFiles: { VARIANT: 'b\n' } });
    expect(variant.sha1).not.toBe(built.sha1);
    expect((await run('tar', ['-tzf', variant.path])).stdout).toMatch(/^\.\/VARIANT$/m);

    const v2 = await buildDroplet('serves-http-v2', out);
    const v2list = (await run('tar', ['-tzf', v2.path])).stdout.split('\n');
    expect(v2list).toEqual(expect.arrayContaining(['./staging_info.yml', './app/server.js', './app/fixture-core.js', './app/.profile.d/setup.sh']));
    expect(v2list).not.toContain('./fixture-core.js');
  });

  it('buildSyntheticDroplet generates many small files and incompressible blobs', async () => {
    const out = path.join(scratch, 'synthetic');
    const built = await buildSyntheticDroplet({ files: 300, dirs: 10, blobMb: 2, blobs: 2, fileName: 'mf.tgz' }, out);
    const entries = (await run('tar', ['-tzf', built.path], { maxBuffer: 16 << 20 })).stdout.split('\n').filter(Boolean);
    expect(entries.filter((e) => /^\.\/data\/d\d{3}\/f\d{5}\.txt$/.test(e))).toHaveLength(300);
    expect(entries.filter((e) => /^\.\/data\/d\d{3}\/$/.test(e))).toHaveLength(10);
    expect(entries).toEqual(expect.arrayContaining(['./startup', './server.js', './blobs/blob0.bin', './blobs/blob1.bin']));
    // Blobs do not compress: the archive is at least their size.
    expect(built.size).toBeGreaterThan(2 * 1024 * 1024);
    const again = await buildSyntheticDroplet({ files: 300, dirs: 10, blobMb: 2, blobs: 2, fileName: 'mf2.tgz' }, out);
    expect(again.sha1).toBe(built.sha1);
    expect(existsSync(path.join(out, 'many-files.tgz'))).toBe(false);
  });

  it('serveDroplets serves files, counts requests per path and 404s the rest', async () => {
    const out = path.join(scratch, 'served');
    const built = await buildDroplet('crash-on-start', out);
    const server = await serveDroplets(out);
    try {
      expect(server.url('crash-on-start')).toBe(`${server.baseUrl}/crash-on-start.tgz`);
      expect(server.url(built.path)).toBe(server.url('crash-on-start.tgz'));
      expect(server.requests('crash-on-start')).toBe(0);

      const res = await fetch(server.url('crash-on-start'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(built.size));
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(built.size);
      expect(await readFile(built.path)).toEqual(body);
      expect(server.requests('/crash-on-start.tgz')).toBe(1);
      expect(server.requests(built.path)).toBe(1);

      expect((await fetch(`${server.baseUrl}/missing.tgz`)).status).toBe(404);
      expect((await fetch(`${server.baseUrl}/..%2Fetc%2Fpasswd`)).status).toBe(404);
      expect(server.requests('missing.tgz')).toBe(1);
      expect(server.totalRequests()).toBe(3);

      server.setDelay(300);
      const t0 = Date.now();
      expect((await fetch(server.url('crash-on-start'))).status).toBe(200);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// Fixture apps, run directly (not through the agent) from an unpacked droplet.

interface AppRun {
  child: ChildProcess;
  pid: number;
  dir: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForStdout(re: RegExp, timeoutMs?: number): Promise<void>;
}

const started: AppRun[] = [];
afterEach(() => {
  // Kill the process groups this file started (each app runs in its own group).
  for (const app of started.splice(0)) {
    try {
      process.kill(-app.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

let instanceSeq = 0;
/** Builds the fixture's droplet and unpacks it with GNU tar into a fresh directory. */
async function unpack(name: string, opts: { owner?: number } = {}): Promise<string> {
  const built = await buildDroplet(name, path.join(scratch, 'droplets'));
  const dir = path.join(scratch, 'instances', `${name}-${instanceSeq++}`);
  await mkdir(dir, { recursive: true });
  await run('tar', ['--no-same-owner', '-xzf', built.path, '-C', dir]);
  if (opts.owner !== undefined) {
    await chmod(path.dirname(dir), 0o755);
    await run('chown', ['-R', `${opts.owner}:${opts.owner}`, dir]);
  }
  return dir;
}

function launch(
  dir: string,
  command: string[],
  opts: { env?: Record<string, string>; cwd?: string; asNobody?: boolean } = {},
): AppRun {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: dir,
    ...opts.env,
  };
  let argv = command;
  if (opts.asNobody) {
    const quoted = command.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    argv = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'bash', '-c', `umask 077 && exec ${quoted}`];
  }
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  const child = spawn(file, args, { cwd: opts.cwd ?? dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${file}`);
  const app: AppRun = {
    child,
    pid: child.pid,
    dir,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout: (re, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (re.test(out)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${String(re)} on stdout within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
  started.push(app);
  return app;
}

async function getJson(port: number, pathname = '/'): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${pathname}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

function procJiffies(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then((s) => {
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  });
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return m?.[1] !== undefined ? Number(m[1]) : 0;
}

describe('fixture apps', () => {
  it('serves-http: `./startup -p PORT` serves / and /env, and traps TERM', async () => {
    const dir = await unpack('serves-http');
    const port = await getFreePort();
    const vcap = JSON.stringify({ name: 'myapp', instance_index: 4 });
    const app = launch(dir, ['./startup', '-p', String(port)], { env: { VCAP_APPLICATION: vcap, SOME_VAR: 'some $value' } });
    await app.waitForStdout(new RegExp(`serves-http listening on ${port}\\n`));

    const self = await getJson(port);
    expect(self).toMatchObject({ pid: app.pid, port, instance_index: 4, name: 'myapp', argv: ['-p', String(port)], cwd: dir, home: dir });
    const env = await getJson(port, '/env');
    expect(env).toMatchObject({ PORT: String(port), SOME_VAR: 'some $value', VCAP_APPLICATION: vcap });
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);

    process.kill(app.pid, 'SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stdout()).toContain('Trapped TERM signal\n');
  });

  it('serves-http: falls back to $PORT without -p, and runs as nobody with umask 077', async () => {
    requireHost({ 'root (to run the app as nobody)': isRoot() });
    const dir = await unpack('serves-http', { owner: NOBODY });
    const port = await getFreePort();
    const app = launch(dir, ['./startup'], { env: { PORT: String(port) }, asNobody: true });
    await app.waitForStdout(/serves-http listening on \d+/);
    const self = await getJson(port);
    expect(self['port']).toBe(port);
    expect(self['argv']).toEqual([]);
    expect(self).toMatchObject({ uid: NOBODY, gid: NOBODY, umask: '0077' });
  });

  it('serves-http-v2: staging_info.yml start command in app/ after sourcing .profile.d', async () => {
    const dir = await unpack('serves-http-v2');
    const info = yaml.load(await readFile(path.join(dir, 'staging_info.yml'), 'utf8')) as Record<string, unknown>;
    expect(info).toEqual({ detected_buildpack: 'node', start_command: 'node server.js' });
    expect(existsSync(path.join(dir, 'startup'))).toBe(false);
    const port = await getFreePort();
    // What the agent's v2 start script does, in short.
    const script = 'cd app && for f in .profile.d/*.sh; do [ -r "$f" ] && . "$f"; done; exec bash -c "$START_COMMAND"';
    const app = launch(dir, ['bash', '-c', script], {
      env: { PORT: String(port), FROM_PROFILE: 'base', START_COMMAND: String(info['start_command']) },
    });
    await app.waitForStdout(new RegExp(`serves-http-v2 listening on ${port}`));
    expect(await getJson(port)).toMatchObject({ port, cwd: path.join(dir, 'app'), profile_d_ran: 'yes', from_profile: 'profile:base' });
    expect(await getJson(port, '/env')).toMatchObject({ PROFILE_D_RAN: 'yes', FROM_PROFILE: 'profile:base' });
    process.kill(-app.pid, 'SIGTERM');
    expect((await app.exited).code).toBe(0);
    expect(app.stdout()).toContain('Trapped TERM signal');
  });

  it('crash-on-start: prints `crashing` to stderr and exits 3 at once', async () => {
    const dir = await unpack('crash-on-start');
    const t0 = Date.now();
    const app = launch(dir, ['./startup', '-p', '1']);
    expect(await app.exited).toEqual({ code: 3, signal: null });
    // "At once": without waiting for anything (a generous bound, not a speed figure).
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(app.stderr()).toBe('crashing\n');
    expect(app.stdout()).toContain('crash-on-start starting');
  });

  it('worker-no-uris: prints a heartbeat line repeatedly without a port', async () => {
    const dir = await unpack('worker-no-uris');
    const app = launch(dir, ['./startup'], { env: { HEARTBEAT_MS: '100' } });
    await app.waitForStdout(/worker-no-uris heartbeat 3\n/);
    expect(app.stderr()).toBe('');
  });

  it('exits-after-delay: listens, then exits 7 after EXIT_AFTER_MS', async () => {
    const dir = await unpack('exits-after-delay');
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)], { env: { EXIT_AFTER_MS: '400' } });
    await app.waitForStdout(/exits-after-delay listening on/);
    expect(await canConnect(port)).toBe(true);
    expect(await app.exited).toEqual({ code: 7, signal: null });
  });

  it('slow-to-listen: opens its port only after LISTEN_DELAY_MS', async () => {
    const dir = await unpack('slow-to-listen');
    const port = await getFreePort();
    const t0 = Date.now();
    const app = launch(dir, ['./startup', '-p', String(port)], { env: { LISTEN_DELAY_MS: '800' } });
    await app.waitForStdout(/waiting 800 ms/);
    expect(await canConnect(port)).toBe(false);
    await waitForPort(port, { timeoutMs: 5000, intervalMs: 20 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(750);
  });

  it('never-listens: keeps running without opening its port', async () => {
    const dir = await unpack('never-listens');
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)]);
    await app.waitForStdout(/never-listens started/);
    // Its own later line (every 5 s) proves the time has passed, not a window of ours.
    await app.waitForStdout(/never-listens still not listening \(1\)\n/);
    expect(await canConnect(port)).toBe(false);
    expect(alive(app.pid)).toBe(true);
  });

  it('ignores-sigterm: survives TERM (printing `ignoring TERM`), dies on KILL', async () => {
    const dir = await unpack('ignores-sigterm');
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)]);
    await app.waitForStdout(/ignores-sigterm listening on/);
    process.kill(app.pid, 'SIGTERM');
    await app.waitForStdout(/ignoring TERM\n/);
    // It handles a second TERM too: alive after the first, shown by an event of its own.
    process.kill(app.pid, 'SIGTERM');
    await app.waitForStdout(/ignoring TERM\n[\s\S]*ignoring TERM\n/);
    expect(await canConnect(port)).toBe(true);
    process.kill(app.pid, 'SIGKILL');
    expect(await app.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('state-file: writes {"state":"RUNNING"} to the droplet.yaml state_file (as nobody, umask 077)', async () => {
    requireHost({ 'root (to run the app as nobody)': isRoot() });
    const dir = await unpack('state-file', { owner: NOBODY });
    const manifest = yaml.load(await readFile(path.join(dir, 'droplet.yaml'), 'utf8')) as Record<string, unknown>;
    expect(manifest['state_file']).toBe('tmp/state.json');
    const stateFile = path.join(dir, 'tmp/state.json');
    const t0 = Date.now();
    launch(dir, ['./startup'], { env: { STATE_DELAY_MS: '300' }, asNobody: true });
    await until(() => existsSync(stateFile), 5000, 'the state file');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(JSON.parse(await readFile(stateFile, 'utf8'))).toMatchObject({ state: 'RUNNING' });
    expect((await stat(stateFile)).mode & 0o777).toBe(0o600);
  });

  it('forks-children: two sleeping children in the app process group, gone when the group is killed', async () => {
    const dir = await unpack('forks-children');
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)]);
    await app.waitForStdout(/forks-children listening on/);
    const children = (await getJson(port))['children'] as number[];
    expect(children).toHaveLength(2);
    expect(children.every(alive)).toBe(true);
    for (const pid of children) {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      expect(pgrp).toBe(app.pid);
    }
    // TERM to the main process alone leaves the children behind...
    process.kill(app.pid, 'SIGTERM');
    await app.exited;
    expect(children.every(alive)).toBe(true);
    // ...a signal to the whole group ends them.
    process.kill(-app.pid, 'SIGKILL');
    await until(() => !children.some(alive), 3000, 'the children to die');
  });

  it('busy-cpu: keeps burning CPU and still answers HTTP', async () => {
    const dir = await unpack('busy-cpu');
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)]);
    await app.waitForStdout(/busy-cpu listening on/);
    const before = await procJiffies(app.pid);
    // A second of CPU after start-up, which an idle app never reaches; however loaded the
    // machine, a busy one does, within a generous wall deadline.
    const { clkTck } = kernelConstants();
    await until(async () => (await procJiffies(app.pid)) - before >= clkTck, 25_000, 'busy-cpu to burn a second of CPU');
    expect((await getJson(port))['spins']).toBeGreaterThan(0);
  });

  it('memory-hog: resident memory grows to HOG_MAX_MB', async () => {
    const dir = await unpack('memory-hog');
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)], { env: { HOG_MAX_MB: '80' } });
    await app.waitForStdout(/memory-hog holding 80 MB/);
    expect(await rssKb(app.pid)).toBeGreaterThan(80 * 1024);
    expect((await getJson(port))['allocated_mb']).toBe(80);
  });

  it('disk-filler: grows filler.dat in its own directory to FILL_MAX_MB (as nobody, umask 077)', async () => {
    requireHost({ 'root (to run the app as nobody)': isRoot() });
    const dir = await unpack('disk-filler', { owner: NOBODY });
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)], { env: { FILL_MAX_MB: '12' }, asNobody: true });
    await app.waitForStdout(/disk-filler done, 12 MB/);
    const st = await stat(path.join(dir, 'filler.dat'));
    expect(st.size).toBe(12 * 1024 * 1024);
    expect(st.uid).toBe(NOBODY);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('many-files: the synthetic droplet unpacks and serves HTTP', async () => {
    const out = path.join(scratch, 'mf');
    const built = await buildSyntheticDroplet({ files: 200, dirs: 20, blobMb: 1 }, out);
    const dir = path.join(scratch, 'instances', 'many-files');
    await mkdir(dir, { recursive: true });
    await run('tar', ['--no-same-owner', '-xzf', built.path, '-C', dir]);
    expect(existsSync(path.join(dir, 'data/d019/f00199.txt'))).toBe(true);
    const port = await getFreePort();
    const app = launch(dir, ['./startup', '-p', String(port)]);
    await app.waitForStdout(/many-files listening on/);
    expect((await getJson(port))['port']).toBe(port);
  });

  it('sample-app: a hello page with the name, instance index and port from VCAP_APPLICATION', async () => {
    const dir = await unpack('sample-app');
    const port = await getFreePort();
    const vcap = JSON.stringify({ name: 'hello-<world>', instance_index: 2, port });
    const app = launch(dir, ['./startup', '-p', String(port)], { env: { VCAP_APPLICATION: vcap } });
    await app.waitForStdout(/sample-app listening on/);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    expect(html).toContain('Hello from hello-&#60;world&#62;!');
    expect(html).toContain('instance <strong>2</strong>');
    expect(html).toContain(`port <strong>${port}</strong>`);
  });
});


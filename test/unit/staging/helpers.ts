import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect } from 'vitest';
import type { Logger } from '../../../src/platform/logger.js';
import { unpackDroplet, type UnpackOptions } from '../../../src/staging/unpack.js';
import { tgzBuffer, type HostileContext, type HostileFixture } from '../../support/tarballs.js';

/**
 * A fresh directory per test. mkdtemp makes it 0700; it is opened to 0755 so that a tar
 * running as nobody can reach what tests place inside.
 */
export async function freshDir(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'dea-staging-'));
  await chmod(root, 0o755);
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export async function writeTgz(dir: string, name: string, body: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, body);
  return file;
}

export async function listRecursive(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).sort();
  } catch {
    return [];
  }
}

export async function makeDir(...parts: string[]): Promise<string> {
  const dir = path.join(...parts);
  await mkdir(dir, { recursive: true });
  return dir;
}

export function token(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Hands a hostile fixture straight to unpackDroplet (no scan) in a fresh `dest` under
 * `root`, and checks that nothing landed outside it: no path the fixture aims at, nothing in
 * a world-writable `outside`, the victim file untouched and unlinked, no stray sibling.
 * Whatever a broken defence wrote outside `root` (absolute /tmp paths) is removed again,
 * pass or fail.
 */
export async function expectNothingOutside(root: string, build: (ctx: HostileContext) => HostileFixture, opts: UnpackOptions): Promise<void> {
  const dest = await makeDir(root, 'dest');
  const outside = await makeDir(root, 'outside');
  await chmod(outside, 0o777); // writable by the instance user too, so only tar's own rules stop it
  const victim = path.join(root, 'victim.txt');
  await writeFile(victim, 'original');
  const ctx = { dest, outside, victim, token: token() };
  const fixture = build(ctx);
  try {
    const tgz = await writeTgz(root, 'hostile.tgz', tgzBuffer(fixture.entries));
    const hostnameBefore = await stat('/etc/hostname').catch(() => null);

    await unpackDroplet(tgz, dest, opts).catch(() => undefined);

    for (const p of fixture.mustNotExist) expect(existsSync(p), p).toBe(false);
    expect(await listRecursive(outside)).toEqual([]);
    expect(await readFile(victim, 'utf8')).toBe('original');
    expect((await stat(victim)).nlink).toBe(1);
    expect(await stat('/etc/hostname').catch(() => null)).toEqual(hostnameBefore);
    const siblings = (await listRecursive(root)).filter((p) => !p.startsWith('dest') && !p.startsWith('outside'));
    expect(siblings.sort()).toEqual(['hostile.tgz', 'victim.txt']);
  } finally {
    // Only paths made unique by the token: never anything that existed before.
    for (const p of fixture.mustNotExist) if (!p.startsWith(`${root}/`) && p.includes(ctx.token)) await rm(p, { recursive: true, force: true });
  }
}

/** A logger whose lines the test can read back. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

export interface Route {
  status?: number;
  body?: Buffer;
  headers?: Record<string, string>;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send the headers and this many body bytes, then stall forever. */
  stallAfter?: number;
  /** Never answer at all. */
  silent?: boolean;
  /** Require these Basic credentials ("user:pass"), else 401. */
  auth?: string;
}

export interface TestServer {
  url: (p: string, auth?: string) => string;
  /** Requests received, per path (query string ignored). */
  hits: (p: string) => number;
  /** Connections the server saw closed while it was still answering. */
  aborted: () => number;
  close: () => Promise<void>;
}

/** A real node:http server on 127.0.0.1, port 0, serving fixed routes. */
export async function startServer(routes: Record<string, Route>): Promise<TestServer> {
  const counts = new Map<string, number>();
  let aborted = 0;
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(p, (counts.get(p) ?? 0) + 1);
    res.on('close', () => {
      if (!res.writableFinished) aborted += 1;
    });
    const route = routes[p];
    if (!route) return void res.writeHead(404).end('not found');
    void answer(route, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (p, auth) => `http://${auth ? `${auth}@` : ''}127.0.0.1:${port}${p}`,
    hits: (p) => counts.get(p) ?? 0,
    aborted: () => aborted,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function answer(route: Route, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (route.silent) return;
  if (route.delayMs) await new Promise((r) => setTimeout(r, route.delayMs));
  if (route.auth && req.headers.authorization !== `Basic ${Buffer.from(route.auth).toString('base64')}`) {
    res.writeHead(401).end();
    return;
  }
  const body = route.body ?? Buffer.alloc(0);
  res.writeHead(route.status ?? 200, { 'content-length': String(body.length), ...route.headers });
  if (route.stallAfter !== undefined) {
    res.write(body.subarray(0, route.stallAfter));
    return;
  }
  res.end(body);
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * deactl files, logs and top against two real agents: files and logs through the agents'
 * signed directory URLs, `logs --follow` seeing what the app writes next, and `top` driven
 * in a real terminal (tmux, 80×24) with its screen read back.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanUp } from '../../support/cleanup.js';
import { eventually } from '../../support/eventually.js';
import { DEACTL_BIN, FIXTURES, startFleet, type Fleet } from './fleet.js';

let fleet: Fleet;
let work: string;
let talkerPort: number;

/** An app that logs every request: the path to stdout, `warn <path>` to stderr. */
function talkerApp(dir: string): string {
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'app.js'),
    `require('http').createServer((q, s) => { console.log('hit ' + q.url); console.error('warn ' + q.url); s.end('ok'); })
  .listen(Number(process.env.PORT), () => console.log('talker listening'));
process.on('SIGTERM', () => process.exit(0));\n`,
  );
  writeFileSync(join(dir, 'startup'), '#!/bin/sh\ncd "$(dirname "$0")"\nexec node app.js\n');
  chmodSync(join(dir, 'startup'), 0o755);
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'deactl-inspect-'));
  fleet = await startFleet([{ zone: 'a' }, { zone: 'b' }]);
  const pushed = await fleet.json<any>(['push', talkerApp(join(work, 'talker')), '--name', 'talker', '--instances', '2']);
  talkerPort = Number(/:(\d+)\/ +\(instance 0\)/.exec(pushed.urls.join('\n'))![1]);
}, 120_000);
afterAll(async () => cleanUp(() => fleet?.close(), () => rm(work, { recursive: true, force: true })), 90_000);

describe('deactl files', () => {
  it('lists an instance directory and prints a file through the signed URL', async () => {
    const top = await fleet.deactl(['files', 'talker', '0']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^logs\/\s+-$/m);
    const json = await fleet.json<any>(['files', 'talker', '1', 'logs']);
    expect(json.entries.map((e: any) => e.name)).toEqual(expect.arrayContaining(['stdout.log', 'stderr.log']));
    const log = await fleet.deactl(['files', 'talker', '0', 'logs/stdout.log']);
    expect(log.stdout).toContain('talker listening');
  }, 30_000);

  it('says what is wrong: a path out of the instance, a missing file, an unknown index or app', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['files', 'talker', '0', '../../../etc/passwd'], /not accessible: paths must stay inside/],
      [['files', 'talker', '0', 'no/such/file'], /no\/such\/file: not found in the instance/],
      [['files', 'talker', '7'], /app "talker" has no instance 7/],
      [['files', 'ghost', '0'], /no agent runs an app named "ghost"/],
      [['logs', 'ghost'], /no agent runs an app named "ghost"/],
    ];
    for (const [args, message] of cases) {
      const r = await fleet.deactl(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  }, 60_000);
});

describe('deactl logs', () => {
  it('prints both logs, tagged', async () => {
    await fetch(`http://127.0.0.1:${talkerPort}/once`);
    const r = await eventually(async () => {
      const res = await fleet.deactl(['logs', 'talker']);
      return res.stdout.includes('/once') && res;
    }, 15_000, 'logs show the request');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[talker/0] OUT talker listening');
    expect(r.stdout).toContain('[talker/0] OUT hit /once');
    expect(r.stdout).toContain('[talker/0] ERR warn /once');
  }, 30_000);

  it('--follow streams what the app writes next, until Ctrl-C', async () => {
    const child = spawn(DEACTL_BIN, ['logs', 'talker', '--index', '0', '--follow'], { env: fleet.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const closed = new Promise<number | null>((r) => child.once('close', r));
    try {
      await eventually(() => out.includes('talker listening'), 20_000, 'existing log printed');
      await fetch(`http://127.0.0.1:${talkerPort}/later`);
      await eventually(() => out.includes('[talker/0] OUT hit /later') && out.includes('[talker/0] ERR warn /later'), 15_000, 'new lines streamed');
    } finally {
      child.kill('SIGINT');
    }
    expect(await closed).toBe(0);
  }, 60_000);

  it("shows a crashed instance's logs", async () => {
    const r = await fleet.deactl(['push', `${FIXTURES}crash-on-start`, '--name', 'crasher']);
    expect(r.code).toBe(1);
    const logs = await fleet.deactl(['logs', 'crasher']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/\[crasher\/0\] ERR .*fixture-core/);
  }, 60_000);
});

describe('deactl top', () => {
  const session = `deactl-top-${process.pid}`;
  const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', session).stdout ?? '';

  it('shows instances with bars in 80 columns, sorts on m, quits on q', async () => {
    const env = `DEA_NATS=${fleet.env.DEA_NATS} DEACTL_HOME=${fleet.home} DEA_RUN_SOURCES=1`;
    // `; sleep` keeps the pane after deactl exits, so its exit code can be read back.
    const started = tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', `env ${env} ${DEACTL_BIN} top; echo "exit=$?"; sleep 30`);
    expect(started.status, started.stderr).toBe(0);
    try {
      const first = await eventually(() => {
        const s = screen();
        return s.includes('talker/1') && s.includes('talker/0') && s;
      }, 30_000, 'top shows both instances');
      expect(first).toMatch(/deactl top: 2 agent\(s\), \d+ instance\(s\), by CPU/);
      expect(first).toMatch(/talker\/0\s+RUNNING\s+\S+\s+\d+\.\d%\s+[█░]{10}\s+\S+\/128M\s+[█░]{10}/);
      for (const line of first.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
      tmux('send-keys', '-t', session, 'm');
      await eventually(() => screen().includes('by memory'), 10_000, 'sorted by memory');
      tmux('send-keys', '-t', session, 'q');
      await eventually(() => screen().includes('exit=0'), 10_000, 'top quit with 0');
    } finally {
      tmux('kill-session', '-t', session);
    }
  }, 90_000);
});

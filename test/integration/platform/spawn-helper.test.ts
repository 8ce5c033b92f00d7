/**
 * libexec/spawner/dea-spawner through SpawnHelper, for real: overlay mounts with
 * mount(2), children with their own session, logs, cwd and exact environment, exits
 * reported, failures named, and what happens when the helper dies or cannot run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/platform/logger.js';
import { HelperGoneError, SpawnHelper, spawnHelperPath } from '../../../src/platform/spawner/helper.js';
import type { SpawnRequest } from '../../../src/platform/spawner/frames.js';
import { eventually } from '../../support/eventually.js';
import { listeningInodes } from '../../../src/platform/listeners.js';
import net from 'node:net';
import { isRoot, requireHost } from '../preconditions.js';

const BIN = spawnHelperPath(join(import.meta.dirname, '..', '..', '..', 'libexec'));

function mounted(target: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === target);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

describe('spawn helper', () => {
  let root: string;
  let helper: SpawnHelper;
  const started: number[] = [];

  beforeAll(async () => {
    requireHost({ 'root (mount(2))': isRoot(), [`${BIN} built (scripts/setup.sh)`]: existsSync(BIN) });
    root = await mkdtemp(join(tmpdir(), 'dea-spawner-'));
    await chmod(root, 0o755);
  });

  afterEach(async () => {
    for (const pid of started.splice(0)) killQuietly(pid);
    await helper?.close();
  });

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const fresh = () => (helper = new SpawnHelper(BIN, silentLogger()));

  function request(over: Partial<SpawnRequest> & { args: string[] }): SpawnRequest {
    return { file: '/bin/sh', cwd: root, env: {}, stdoutPath: join(root, 'out.log'), stderrPath: join(root, 'err.log'), ...over };
  }

  it('mounts an overlay with mount(2) and takes it down again', async () => {
    fresh();
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => join(root, 'ov', n)) as [string, string, string, string];
    for (const d of [lower, upper, work, merged]) await mkdir(d, { recursive: true });
    await writeFile(join(lower, 'from-lower'), 'below');
    try {
      await helper.mount('overlay', 'overlay', merged, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
      expect(mounted(merged)).toBe(true);
      expect(await readFile(join(merged, 'from-lower'), 'utf8')).toBe('below');
      await writeFile(join(merged, 'written'), 'above');
      expect(existsSync(join(upper, 'written'))).toBe(true);
      expect(helper.pid).not.toBe(process.pid);
    } finally {
      expect(await helper.umount(merged, false)).toBe(true);
    }
    expect(mounted(merged)).toBe(false);
    expect(await helper.umount(merged, false)).toBe(false); // nothing mounted there any more
  });

  it('names why a mount failed', async () => {
    fresh();
    await expect(helper.mount('overlay', 'overlay', join(root, 'no-such-dir'), 'lowerdir=/nonexistent')).rejects.toThrow(/mount of overlay .* failed: ENOENT/);
  });

  it('spawns in a session of its own, in cwd, with exactly the environment given, output appended to the logs', async () => {
    fresh();
    const cwd = join(root, 'cwd');
    await mkdir(cwd, { recursive: true });
    await writeFile(join(root, 'out.log'), 'before\n');
    const script = 'echo "pwd=$PWD sid=$(ps -o sid= -p $$ | tr -d \' \') pid=$$"; env | sort | grep -v "^PWD=\\|^SHLVL=\\|^_="; ls /proc/$$/fd | tr "\\n" " "; echo; read x; echo "read=$?"; echo oops >&2';
    const s = await helper.spawn(request({ args: ['-c', script], cwd, env: { PATH: '/usr/bin:/bin', ODD: '$(x) ;"\'' } }));
    started.push(s.pid);
    expect(await s.exit).toEqual({ code: 0, signal: null });
    const out = await readFile(join(root, 'out.log'), 'utf8');
    const [before, first, ...rest] = out.split('\n');
    expect(before).toBe('before');
    expect(first).toBe(`pwd=${cwd} sid=${s.pid} pid=${s.pid}`);
    expect(rest.slice(0, 2)).toEqual([`ODD=$(x) ;"'`, 'PATH=/usr/bin:/bin']);
    // 0, 1, 2 and the one ls itself opens to list them: nothing of the helper's leaks in.
    expect(rest[2]!.trim().split(' ').map(Number).filter((fd) => fd > 3)).toEqual([]);
    expect(rest[3]).toBe('read=1'); // stdin is /dev/null
    expect(await readFile(join(root, 'err.log'), 'utf8')).toBe('oops\n');
  });

  it('reports exit codes and signals, and what could not be exec\'d', async () => {
    fresh();
    const three = await helper.spawn(request({ args: ['-c', 'exit 3'] }));
    expect(await three.exit).toEqual({ code: 3, signal: null });
    const sleeper = await helper.spawn(request({ args: ['-c', 'exec sleep 600'] }));
    started.push(sleeper.pid);
    await eventually(() => readFileSync(`/proc/${sleeper.pid}/comm`, 'utf8').trim() === 'sleep', 10_000, 'sleep exec\'d');
    process.kill(sleeper.pid, 'SIGTERM');
    expect(await sleeper.exit).toEqual({ code: null, signal: 15 });
    await expect(helper.spawn(request({ file: join(root, 'missing'), args: [] }))).rejects.toThrow(/ENOENT/);
    await expect(helper.spawn(request({ args: [], cwd: join(root, 'missing') }))).rejects.toThrow(/ENOENT/);
  });

  it('never writes a log through a symlink', async () => {
    fresh();
    const target = join(root, 'elsewhere');
    await writeFile(target, 'untouched');
    await symlink(target, join(root, 'link.log'));
    await expect(helper.spawn(request({ args: ['-c', 'echo hi'], stdoutPath: join(root, 'link.log') }))).rejects.toThrow(/ELOOP/);
    expect(await readFile(target, 'utf8')).toBe('untouched');
  });

  it('when it dies: watched children are reported unwatched, a request in flight fails, the next starts a new helper', async () => {
    fresh();
    const sleeper = await helper.spawn(request({ args: ['-c', 'exec sleep 600'] }));
    started.push(sleeper.pid);
    const first = helper.pid!;
    expect(helper.generation).toBe(1);
    process.kill(first, 'SIGSTOP'); // the request below waits in its pipe
    const inFlight = helper.umount(join(root, 'never-mounted'), false);
    process.kill(first, 'SIGKILL');
    await expect(inFlight).rejects.toBeInstanceOf(HelperGoneError);
    expect(await sleeper.exit).toBeNull();
    expect(alive(sleeper.pid)).toBe(true); // the child lives on, as after an agent's death
    const again = await helper.spawn(request({ args: ['-c', 'exit 5'] }));
    expect(await again.exit).toEqual({ code: 5, signal: null });
    expect(helper.generation).toBe(2);
    expect(helper.pid).not.toBe(first);
  });

  it('a helper that does not answer is killed, what waited fails, and the next request gets a new one', async () => {
    helper = new SpawnHelper(BIN, silentLogger(), 300);
    expect(await helper.umount(join(root, 'never-mounted'), false)).toBe(false);
    const first = helper.pid!;
    process.kill(first, 'SIGSTOP');
    await expect(helper.umount(join(root, 'never-mounted'), false)).rejects.toBeInstanceOf(HelperGoneError);
    await eventually(() => !alive(first), 10_000, 'the wedged helper killed');
    expect(await helper.umount(join(root, 'never-mounted'), false)).toBe(false);
    expect(helper.generation).toBe(2);
  });

  it('ends at the end of its input, leaving its children running', async () => {
    fresh();
    const sleeper = await helper.spawn(request({ args: ['-c', 'exec sleep 600'] }));
    started.push(sleeper.pid);
    const pid = helper.pid!;
    await helper.close();
    await eventually(() => !alive(pid), 10_000, 'helper gone');
    expect(alive(sleeper.pid)).toBe(true);
  });

  it('names the sockets listening on a port, as /proc/net does, IPv4 and IPv6', async () => {
    fresh();
    for (const host of ['127.0.0.1', '::1']) {
      const server = net.createServer();
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const viaHelper = await helper.listeningInodes(port);
        expect(viaHelper.size).toBe(1);
        expect(viaHelper).toEqual(listeningInodes(port));
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
      expect(await helper.listeningInodes(port)).toEqual(new Set());
    }
  });

  it('where it cannot run, forks and mount(8) do the same work', async () => {
    helper = new SpawnHelper(join(root, 'not-built'), silentLogger());
    const s = await helper.spawn(request({ args: ['-c', 'echo fallback; exit 4'], stdoutPath: join(root, 'fb.log') }));
    expect(await s.exit).toEqual({ code: 4, signal: null });
    expect(await readFile(join(root, 'fb.log'), 'utf8')).toBe('fallback\n');
    expect(helper.generation).toBe(0);
    const dirs = ['l', 'u', 'w', 'm'].map((n) => join(root, 'fb', n)) as [string, string, string, string];
    for (const d of dirs) await mkdir(d, { recursive: true });
    await helper.mount('overlay', 'overlay', dirs[3], `lowerdir=${dirs[0]},upperdir=${dirs[1]},workdir=${dirs[2]}`);
    expect(mounted(dirs[3])).toBe(true);
    expect(await helper.umount(dirs[3], false)).toBe(true);
    expect(mounted(dirs[3])).toBe(false);
  });
});

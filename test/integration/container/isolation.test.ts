/**
 * What an app in a container can see and do: its own uid (not root), PID namespace,
 * hostname and read-only root; nothing of a neighbour or of the agent's base_dir. And
 * what a hostile app cannot do: a fork bomb stops at pids.max while a neighbour keeps
 * running, a memory hog is OOM-killed in its own group and reported as such.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceProcess } from '../../../src/backends/types.js';
import { containerHarness, readLog, waitFor, type Harness } from './harness.js';

let h: Harness;
// Under /var/tmp, not /tmp: the container's /tmp is the instance's own, so only a base_dir
// elsewhere in the root filesystem shows that the agent's directory is hidden.
beforeAll(async () => {
  h = await containerHarness({ parent: '/var/tmp' });
});
afterAll(async () => {
  await h?.close();
});

const launched: InstanceProcess[] = [];
async function run(startup: string, limits?: { memMb?: number; nproc?: number }) {
  const spec = await h.instance(startup, {
    limits: { memMb: limits?.memMb ?? 128, diskMb: 64, fds: 256, nproc: limits?.nproc ?? 64, cpuShares: 16 },
  });
  const p = await h.backend.launch(spec);
  launched.push(p);
  return { spec, p };
}
afterAll(async () => {
  for (const p of launched) await p.destroy().catch(() => undefined);
});

describe('what the app sees', () => {
  it('runs as an unprivileged uid of its own, near PID 1, under its own hostname, on a read-only root', async () => {
    const script = [
      'echo "uid=$(id -u) pid=$$ host=$(hostname)"',
      'touch /probe 2>/dev/null && echo "root=writable" || echo "root=readonly"',
      'touch /etc/probe 2>/dev/null && echo "etc=writable" || echo "etc=readonly"',
      'touch /home/vcap/app/probe && echo "app=writable"',
      'touch /tmp/probe && echo "tmp=writable"',
      'echo "procs=$(ls -d /proc/[0-9]* | wc -l)"',
      'echo done; exec sleep 60',
    ].join('\n');
    const { spec } = await run(script);
    await waitFor(() => expect(readLog(spec)).toContain('done'));
    const log = readLog(spec);
    const uid = Number(/uid=(\d+)/.exec(log)?.[1]);
    expect(uid).toBeGreaterThanOrEqual(1000);
    expect(log).toMatch(/pid=[23] /); // PID 1 is the container's init
    expect(log).toContain(`host=${spec.instanceId}`);
    expect(log).toContain('root=readonly');
    expect(log).toContain('etc=readonly');
    expect(log).toContain('app=writable');
    expect(log).toContain('tmp=writable');
    // Its /proc lists its own processes only (init, startup and the pipeline that counts),
    // not the host's hundreds.
    const procs = Number(/procs=(\d+)/.exec(log)?.[1]);
    expect(procs).toBeGreaterThanOrEqual(2);
    expect(procs).toBeLessThanOrEqual(8);
  });

  it('has its own IPC and mount namespaces, a minimal /dev, its logs at /home/vcap/logs, and an init that reaps orphans', async () => {
    const script = [
      'echo "ipc=$(readlink /proc/self/ns/ipc) mnt=$(readlink /proc/self/ns/mnt)"',
      'echo "dev=$(ls /dev | sort | tr "\\n" " ")"',
      '[ -f /home/vcap/logs/stdout.log ] && echo "logs=here"',
      // An orphan: its parent subshell ends at once, so it is the init's to reap.
      '( sleep 0.2 & echo $! > /tmp/orphan.pid )',
      'o=$(cat /tmp/orphan.pid)',
      'for i in $(seq 200); do [ -e /proc/$o ] || break; sleep 0.05; done',
      '[ -e /proc/$o ] && echo "orphan=$(awk \'/^State/ {print $2}\' /proc/$o/status)" || echo "orphan=reaped"',
      'echo done; exec sleep 60',
    ].join('\n');
    const { spec } = await run(script);
    await waitFor(() => expect(readLog(spec)).toContain('done'), 30_000);
    const log = readLog(spec);
    expect(/ipc=(\S+)/.exec(log)?.[1]).not.toBe(readlinkSync('/proc/self/ns/ipc'));
    expect(/mnt=(\S+)/.exec(log)?.[1]).not.toBe(readlinkSync('/proc/self/ns/mnt'));
    expect(/dev=(.*)$/m.exec(log)?.[1]?.trim().split(' ')).toEqual(['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    expect(log).toContain('logs=here');
    expect(log).toContain('orphan=reaped');
  });

  it('sees nothing of a neighbour and nothing of the agent base_dir', async () => {
    const neighbour = await run('echo secret > /home/vcap/app/secret; echo ready; exec sleep 60');
    await waitFor(() => expect(readLog(neighbour.spec)).toContain('ready'));
    const script = [
      `cat ${neighbour.spec.dir}/app/secret 2>/dev/null && echo "neighbour=readable" || echo "neighbour=hidden"`,
      `ls ${h.base} 2>/dev/null | grep -q . && echo "base=visible" || echo "base=hidden"`,
      `ls /proc | grep -c '^[0-9]' > /dev/null; ps -eo pid,uid,comm 2>/dev/null | grep -c sleep | sed 's/^/sleeps=/'`,
      'echo done; exec sleep 60',
    ].join('\n');
    const { spec } = await run(script);
    await waitFor(() => expect(readLog(spec)).toContain('done'));
    const log = readLog(spec);
    expect(log).toContain('neighbour=hidden');
    expect(log).toContain('base=hidden');
    expect(log).toContain('sleeps=0'); // the neighbour's sleep is not in its PID namespace
    // The neighbour's file is there on the host: hidden, not missing.
    expect(readFileSync(`${neighbour.spec.dir}/app/secret`, 'utf8')).toBe('secret\n');
  });
});

describe('hostile apps', () => {
  it('a fork bomb stops at pids.max and a neighbour keeps running', async () => {
    const neighbour = await run('i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done');
    const bomb = await run('echo start; bomb() { bomb | bomb & }; bomb; sleep 30', { nproc: 40 });
    await waitFor(() => expect(readLog(bomb.spec, 'stderr')).toMatch(/fork|Resource temporarily unavailable/));
    const pidsDir = h.groupDir('pids', bomb.spec.instanceId);
    if (h.host.v1.has('pids')) {
      await waitFor(() => expect(Number(/max (\d+)/.exec(readFileSync(`${pidsDir}/pids.events`, 'utf8'))?.[1])).toBeGreaterThan(0));
      expect(Number(readFileSync(`${pidsDir}/pids.current`, 'utf8'))).toBeLessThanOrEqual(40);
    }
    const ticks = () => (readLog(neighbour.spec).match(/tick/g) ?? []).length;
    const before = ticks();
    await waitFor(() => expect(ticks()).toBeGreaterThan(before + 5));
    await bomb.p.stop(1_000);
    expect(await bomb.p.pids()).toEqual([]);
    await bomb.p.destroy();
  }, 60_000);

  it('a memory hog is OOM-killed inside its group and reported as out of memory', async () => {
    const { p } = await run('echo start; exec tail /dev/zero', { memMb: 32 });
    const info = await p.exited;
    expect(info.exitStatus).toBe(137);
    expect(info.event).toBe('out of memory');
  }, 60_000);

  it('a SIGKILL that is not an OOM kill is not reported as one', async () => {
    const { p } = await run('kill -9 $$');
    const info = await p.exited;
    expect(info.exitStatus).toBe(137);
    expect(info.event).toBeNull();
  });
});

/**
 * A real LXCFS of the test's own, mounted on a temp directory (not /var/lib/lxcfs, so a
 * host's own LXCFS is never touched), stopped with SIGTERM (it unmounts itself; SIGKILL
 * would leave a dead mount) and its directory removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lxcfsMounted } from '../../../src/backends/container/index.js';

export interface Lxcfs {
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startLxcfs(): Promise<Lxcfs> {
  const root = await mkdtemp(join(tmpdir(), 'dea-lxcfs-'));
  const dir = join(root, 'mnt');
  await (await import('node:fs/promises')).mkdir(dir);
  const child: ChildProcess = spawn('lxcfs', ['-f', '-p', join(root, 'lxcfs.pid'), dir], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`lxcfs could not start (is the lxcfs package installed?): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`lxcfs exited with ${code}`)));
  });
  const mounted = (async () => {
    const deadline = Date.now() + 15_000;
    while (!lxcfsMounted(dir, readFileSync('/proc/self/mountinfo', 'utf8'))) {
      if (Date.now() > deadline) throw new Error('lxcfs did not mount within 15 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await Promise.race([mounted, failed]);
  } catch (err) {
    child.kill('SIGTERM');
    await rm(root, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  failed.catch(() => undefined);
  return {
    dir,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(root, { recursive: true, force: true });
    },
  };
}

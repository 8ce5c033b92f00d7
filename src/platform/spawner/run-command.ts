import { spawn } from 'node:child_process';

/**
 * Runs a system command (mount, umount, cp, mkfs) and resolves with its exit code; -1 if
 * it could not start. Plain spawn, not execa: this is on every start's path, and execa's
 * extra work cost ~3 ms a call here.
 */
export function runCommand(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    child.once('error', () => resolve(-1));
    child.once('exit', (code) => resolve(code ?? -1));
  });
}

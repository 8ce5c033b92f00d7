import { spawn } from 'node:child_process';

/**
 * Gives a droplet tree's group the owner's rights (`g=u`: rwx bits only, no set-id),
 * directories and files alike; symbolic links are neither changed nor followed (GNU
 * chmod's -R default). For the container backend: every instance runs as a uid of its own
 * but in the group that owns the shared, read-only droplet trees, so under overlayfs it
 * can change and add files in its own view as the tree's owner could (copy-up puts every
 * change in its own upper layer; the tree itself is never written). Runs once per
 * unpacked droplet, while the tree still sits in its root-only box, so nothing can swap
 * a path under it. One chmod process: a Node walk of 3,000 files cost ~1.2 s of the
 * agent's CPU here, chmod about 30 ms.
 */
export function shareWithGroup(root: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('chmod', ['-R', 'g=u', '--', root], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chmod -R g=u failed (exit ${code}): ${err.trim().slice(0, 300)}`))));
  });
}

/** Leaving nothing mounted behind, for integration tests that mount. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';

/** Mount points at or below `dir`, deepest first (/proc/self/mounts escapes spaces as \040). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts whatever a test left mounted below `dir`, then removes `dir`. Unmounting first
 * matters: removing through a mount would delete what is beneath it (an overlay's lower
 * tree) or fail on a busy mount point.
 */
export async function unmountAndRemove(dir: string): Promise<void> {
  for (const p of mountsUnder(dir)) {
    try {
      execFileSync('umount', [p]);
    } catch {
      execFileSync('umount', ['-l', p]);
    }
  }
  await rm(dir, { recursive: true, force: true });
}

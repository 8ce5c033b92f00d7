/**
 * What a host must offer for the integration tests that use it directly (root, overlayfs,
 * tmpfs mounts, real cgroups of a given layout). Call `requireHost` from a beforeEach: an
 * unmet precondition then fails every test of the block with a message that says what
 * the host lacks. Never a skip, and never a pass that tested nothing. (A failing beforeAll
 * would report the tests as skipped.)
 */
import { readFileSync } from 'node:fs';

export type Preconditions = Readonly<Record<string, boolean>>;

export function requireHost(needs: Preconditions): void {
  const missing = Object.entries(needs)
    .filter(([, met]) => !met)
    .map(([what]) => what);
  if (missing.length > 0) throw new Error(`this host cannot run these tests; it lacks: ${missing.join('; ')}`);
}

export const isRoot = (): boolean => process.getuid?.() === 0;

/** Whether the kernel knows a filesystem type (/proc/filesystems). */
export function kernelHasFilesystem(type: string): boolean {
  try {
    return readFileSync('/proc/filesystems', 'utf8')
      .split('\n')
      .some((line) => line.split('\t').at(-1) === type);
  } catch {
    return false;
  }
}

import { setPriority } from 'node:os';

/** Sets the nice level of each process; one that is gone already is skipped. */
export function renice(pids: readonly number[], nice: number): void {
  for (const pid of pids) {
    try {
      setPriority(pid, nice);
    } catch {
      // exited between the sample and now
    }
  }
}

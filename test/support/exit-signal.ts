import type { ChildProcess } from 'node:child_process';

/** Children to signal when the test process exits, and with which signal. */
const live = new Map<ChildProcess, NodeJS.Signals>();
let hooked = false;

/**
 * The last resort when a test process ends without stopping a child it started (a worker
 * torn down mid-test): `signal` to each one still running. A signal is all an exit
 * handler can still send. The child leaves the list by itself when it exits.
 */
export function signalOnExit(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const [c, sig] of live) {
        try {
          c.kill(sig);
        } catch {
          // already gone
        }
      }
    });
  }
  live.set(child, signal);
  const forget = () => live.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
}

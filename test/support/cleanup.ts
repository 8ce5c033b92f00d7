import { rmSync } from 'node:fs';
import { unmountUnder } from './agent-process.js';
/**
 * Runs every clean-up step, in order, even after one fails, then throws the first
 * failure: one stuck step must not leave the rest (a nats-server, a temp dir) behind.
 * Undefined steps (for things a failed setup never made) are skipped.
 */
export async function cleanUp(...steps: Array<(() => unknown) | undefined>): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    if (step === undefined) continue;
    try {
      await step();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/** What a test file that drives one agent over its own nats-server sets up. */
export interface Rig {
  readonly agent?: { dispose(): Promise<void> };
  readonly bus?: { close(): Promise<unknown> };
  readonly files?: { close(): Promise<unknown> };
  readonly nats?: { stop(): Promise<unknown> };
}

/**
 * Tears a rig down in its one right order, the agent first (it stops its apps and says
 * goodbye while the bus still runs), then the client, the droplet server and nats-server,
 * then `more` (temp dirs): every step runs, as in cleanUp.
 */
export function tearDown(rig: Rig, ...more: Array<(() => unknown) | undefined>): Promise<void> {
  return cleanUp(
    rig.agent && (() => rig.agent!.dispose()),
    rig.bus && (() => rig.bus!.close()),
    rig.files && (() => rig.files!.close()),
    rig.nats && (() => rig.nats!.stop()),
    ...more,
  );
}

/**
 * A clean-up step that removes a test's temp tree, unmounting first whatever an agent
 * that did not stop cleanly left mounted in it; none when the tree was never made.
 */
export function removeTree(root: string | undefined): (() => void) | undefined {
  if (root === undefined) return undefined;
  return () => {
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  };
}

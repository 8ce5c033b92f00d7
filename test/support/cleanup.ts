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

/**
 * Everything the benchmark starts or creates registers its undo here; `run()` undoes it
 * all, newest first, whether the benchmark finished, failed or was interrupted.
 */
export class Cleanup {
  private readonly actions: Array<{ what: string; fn: () => Promise<unknown> | unknown }> = [];
  private running: Promise<void> | undefined;

  defer(what: string, fn: () => Promise<unknown> | unknown): void {
    this.actions.push({ what, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.actions.length > 0) {
        const { what, fn } = this.actions.pop()!;
        try {
          await fn();
        } catch (err) {
          process.stderr.write(`cleanup: ${what} failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    })();
    return this.running;
  }
}

/**
 * Runs a benchmark's `main` with a Cleanup that is run at the end, also after a failure or
 * on SIGINT/SIGTERM. The event loop is held open meanwhile: the agent's clock timers and
 * the backends' children are unref'd, and a wait on them alone would let Node exit early.
 */
export async function runBench(main: (cleanup: Cleanup) => Promise<void>): Promise<void> {
  const cleanup = new Cleanup();
  const keepAlive = setInterval(() => undefined, 1000);
  cleanup.defer('release the event loop', () => clearInterval(keepAlive));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanup.run().then(() => process.exit(130)));
  try {
    await main(cleanup);
  } finally {
    await cleanup.run();
  }
}

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

/**
 * Polls `check` until it returns true (or a value other than false), or fails after
 * `timeoutMs` (default 15 s: generous for a busy machine; a check that passes ends at once).
 */
export async function eventually<T>(check: () => T | false | Promise<T | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Asking an instance who it is: serves-http replies {pid, boot, instance_index, ...}. */

/* eslint-disable @typescript-eslint/no-explicit-any -- the app's reply is free-form JSON */

export interface AppReply {
  pid: number;
  boot: string;
  index: number;
}

/** GET / on the instance's port; null when it does not answer within 5 s. */
export async function probe(port: number): Promise<AppReply | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as any;
    return { pid: Number(body.pid), boot: String(body.boot), index: Number(body.instance_index) };
  } catch {
    return null;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}

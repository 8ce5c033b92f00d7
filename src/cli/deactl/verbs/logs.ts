/**
 * `deactl logs APP [--index I] [--follow]`: an instance's stdout and stderr logs, each
 * line marked as cf logs did (`[APP/0] OUT …`); --follow streams what the app writes next
 * (`?tail`, protocol §11.5) until Ctrl-C or the instance stops being served.
 */
import { get, signedUrl } from '../directory.js';
import type { GlobalOptions } from '../output.js';
import { withSession } from '../run.js';
import type { Session } from '../session.js';

const LOGS = [
  { path: 'logs/stdout.log', tag: 'OUT' },
  { path: 'logs/stderr.log', tag: 'ERR' },
] as const;

/** Writes whole lines, each with its tag; keeps a partial last line until its end comes. */
function lineWriter(prefix: string, json: boolean, stream: string): { push(text: string): void; end(): void } {
  let rest = '';
  const emit = (line: string) => process.stdout.write(json ? `${JSON.stringify({ stream, line })}\n` : `${prefix} ${line}\n`);
  return {
    push(text) {
      const lines = (rest + text).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) emit(l);
    },
    end() {
      if (rest !== '') emit(rest);
      rest = '';
    },
  };
}

async function pump(session: Session, app: string, index: number, log: (typeof LOGS)[number], follow: boolean, json: boolean, signal: AbortSignal): Promise<void> {
  const { url } = await signedUrl(session, app, index, log.path);
  const res = await get(url, log.path, follow ? { tail: '', tail_offset: '0' } : {}, signal);
  const out = lineWriter(`[${app}/${index}] ${log.tag}`, json, log.tag === 'OUT' ? 'stdout' : 'stderr');
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body ?? []) out.push(decoder.decode(chunk, { stream: true }));
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  out.end();
}

export async function logs(app: string, index: number, follow: boolean, g: GlobalOptions): Promise<number> {
  return withSession(g.nats, async (session) => {
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      if (!follow) {
        for (const log of LOGS) await pump(session, app, index, log, false, g.json, stop.signal);
      } else {
        // Both at once: a follow runs until the instance stops being served or Ctrl-C.
        await Promise.all(LOGS.map((log) => pump(session, app, index, log, true, g.json, stop.signal)));
      }
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

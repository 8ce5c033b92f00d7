/**
 * `deactl top`: the instances every 2 s, busiest first, with usage bars; c and m choose
 * the sort, q (or Ctrl-C) quits. On a terminal it takes the alternate screen and gives it
 * back; --json prints one JSON snapshot per refresh instead.
 */
import { discoverAgents } from '../fleet.js';
import type { GlobalOptions } from '../output.js';
import { withSession } from '../run.js';
import type { Session } from '../session.js';
import { renderTop, sortInstances, type SortKey } from '../top-screen.js';
import { listInstances } from './ls.js';

const REFRESH_MS = 2_000;
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';

async function snapshot(session: Session) {
  const agents = await discoverAgents(session, { quietMs: 250, maxMs: 1_500 });
  return { agents: agents.length, instances: await listInstances(session, agents) };
}

/** Keys from a terminal in raw mode; resolves `quit` on q or Ctrl-C. */
function keys(onSort: (k: SortKey) => void, quit: () => void): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY) return () => undefined;
  stdin.setRawMode(true);
  stdin.resume();
  const onData = (b: Buffer) => {
    for (const ch of b.toString()) {
      if (ch === 'q' || ch === 'Q' || ch === '\x03') quit();
      else if (ch === 'c') onSort('cpu');
      else if (ch === 'm') onSort('mem');
    }
  };
  stdin.on('data', onData);
  return () => {
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
}

export async function top(sortArg: SortKey, g: GlobalOptions): Promise<number> {
  let sort: SortKey = sortArg;
  let last: Awaited<ReturnType<typeof snapshot>> | null = null;
  const tty = process.stdout.isTTY && !g.json;
  const draw = () => {
    if (!last) return;
    // One compact line per refresh, so a script can read it line by line.
    if (g.json) return void process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), sort, instances: sortInstances(last.instances, sort) })}\n`);
    const lines = renderTop({ ...last, sort, now: new Date(), columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 });
    process.stdout.write(`${tty ? '\x1b[H\x1b[2J' : ''}${lines.join('\n')}\n`);
  };
  return withSession(g.nats, async (session) => {
    let quit!: () => void;
    const quitting = new Promise<void>((r) => (quit = r));
    const stopKeys = keys((k) => ((sort = k), draw()), () => quit());
    process.once('SIGINT', () => quit());
    process.once('SIGTERM', () => quit());
    if (tty) process.stdout.write(ENTER);
    try {
      for (let done = false; !done; ) {
        last = await snapshot(session);
        draw();
        done = await Promise.race([quitting.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), REFRESH_MS))]);
      }
    } finally {
      stopKeys();
      if (tty) process.stdout.write(LEAVE);
    }
    return 0;
  });
}

/**
 * `deactl watch [SUBJECT…]`: bus traffic as it happens, one line per message (time,
 * subject, a short summary of the common ones or the body), secrets masked; --json gives one masked JSON object per line. Runs until
 * Ctrl-C.
 */
import { mask } from '../mask.js';
import { fit } from '../format.js';
import { summarise } from '../watch-summary.js';
import { Output, type GlobalOptions } from '../output.js';
import { withSession } from '../run.js';
import type { Message } from '../session.js';

function line(m: Message, width: number): string {
  const time = new Date().toISOString().slice(11, 23);
  return fit(`${time}  ${m.subject}  ${summarise(m.subject, m.data)}`, width);
}

export async function watch(subjects: readonly string[], g: GlobalOptions): Promise<number> {
  const out = new Output(g.json);
  const width = process.stdout.isTTY ? process.stdout.columns : 400;
  return withSession(g.nats, async (session) => {
    const list = subjects.length > 0 ? subjects : ['>'];
    for (const subject of list) {
      session.listen(subject, (m) => {
        const text = g.json ? JSON.stringify({ subject: m.subject, reply: m.reply ?? null, data: mask(m.data) }) : line(m, width);
        process.stdout.write(`${text}\n`);
      });
    }
    await session.flush();
    out.say(`# watching ${list.join(', ')} on ${session.url.replace(/\/\/[^@/]*@/, '//')} (Ctrl-C stops)`);
    await new Promise<void>((resolve) => {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
    });
    return 0;
  });
}

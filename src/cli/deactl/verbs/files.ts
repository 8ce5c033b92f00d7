/**
 * `deactl files APP INDEX [PATH]`: a directory listing or a file of an instance (a crashed
 * one's logs too), through the agent's signed URL (protocol §11.5). --json lists
 * directories as JSON.
 */
import { get, signedUrl } from '../directory.js';
import type { GlobalOptions } from '../output.js';
import { withSession } from '../run.js';

export async function files(app: string, index: number, path: string | undefined, g: GlobalOptions): Promise<number> {
  return withSession(g.nats, async (session) => {
    const { url } = await signedUrl(session, app, index, path ?? null);
    const res = await get(url, path ?? '/', g.json ? { format: 'json' } : {});
    // Streamed: a file may be large, and deactl files … | head must not wait for all of it.
    for await (const chunk of res.body ?? []) process.stdout.write(chunk);
    return 0;
  });
}

/**
 * Instance files through the agent's directory server (protocol §11.5): ask the agents
 * for a signed URL (`dea.find.droplet` with `path`), then fetch it. The URL's answer codes
 * become messages that say what to do.
 */
import { fail, Hints } from './errors.js';
import { findInstances, type Instance } from './instances.js';
import type { Session } from './session.js';

/** Which instance of an index to show when there are several: one serving, else the latest crash. */
const PREFERENCE = ['RUNNING', 'EVACUATING', 'STARTING', 'CRASHED'];

function preferred(list: readonly Instance[]): Instance | undefined {
  const ranked = list.filter((i) => PREFERENCE.includes(i.state));
  ranked.sort((a, b) => PREFERENCE.indexOf(a.state) - PREFERENCE.indexOf(b.state) || b.state_timestamp - a.state_timestamp);
  return ranked[0];
}

/** The signed URL of `path` (null: the instance's top directory) in instance `index` of `app`. */
export async function signedUrl(session: Session, app: string, index: number, path: string | null): Promise<{ url: string; instance: Instance }> {
  const replies = await findInstances(session, app, { indices: [index], path });
  const inst = preferred(replies);
  if (!inst) {
    if (replies.length > 0) throw fail(`instance ${index} of ${app} is ${replies[0]!.state}: its files are served only while it runs or after it crashed`);
    const any = await findInstances(session, app, {});
    throw fail(any.length > 0 ? Hints.noIndex(app, index) : Hints.unknownApp(app));
  }
  if (typeof inst.file_uri_v2 !== 'string') {
    throw fail(`agent ${inst.dea} gave no file URL (an agent without the directory server): upgrade it`);
  }
  return { url: inst.file_uri_v2, instance: inst };
}

/** GET with the answer codes of §11.5 turned into deactl errors. */
export async function get(url: string, shownPath: string, extra: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  const u = new URL(url);
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  let res: Response;
  try {
    res = await fetch(u, signal ? { signal } : {});
  } catch (err) {
    throw fail(`cannot reach the agent's directory server at ${u.host} (${(err as Error).message}): is the agent still running? see deactl status`);
  }
  if (res.ok) return res;
  const body = (await res.text().catch(() => '')).trim().slice(0, 200);
  switch (res.status) {
    case 404:
      throw fail(`${shownPath}: not found in the instance (${body}): list its files with deactl files APP INDEX`);
    case 403:
      throw fail(`${shownPath}: not accessible: paths must stay inside the instance's directory`);
    case 401:
    case 400:
      throw fail(`the agent refused its own signed URL (${res.status} ${body}): its clock or secret changed (restarted?); run the command again`);
    default:
      throw fail(`the agent's directory server answered ${res.status} ${body}`);
  }
}

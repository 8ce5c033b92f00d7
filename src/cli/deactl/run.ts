/** Runs a verb's body with one NATS session, closed whatever happens. */
import { Session } from './session.js';

export async function withSession<T>(url: string, body: (s: Session) => Promise<T>): Promise<T> {
  const session = await Session.open(url);
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

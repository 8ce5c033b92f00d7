import { readFileSync } from 'node:fs';

/** uid/gid of a local user from /etc/passwd; null if there is no such user. */
export function lookupUser(name: string): { uid: number; gid: number } | null {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd file: no such user
  }
  return null;
}

/**
 * Host state the whole test run changes and gives back at its end: container networks
 * need IPv4 forwarding (the agent turns it on), and agents keep host-wide claims under
 * /run/dea-net. Whatever the run found is what it leaves.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';

const FORWARD = '/proc/sys/net/ipv4/ip_forward';
const CLAIMS = '/run/dea-net';

export default function setup(): () => void {
  const forward = readOrNull(FORWARD);
  const claimsExisted = existsSync(CLAIMS);
  return () => {
    if (forward !== null && readOrNull(FORWARD) !== forward) writeFileSync(FORWARD, forward);
    if (!claimsExisted && onlyEmptyDirs(CLAIMS)) rmSync(CLAIMS, { recursive: true, force: true });
  };
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Whether `dir` holds nothing but empty directories (no claim of a live agent in it). */
function onlyEmptyDirs(dir: string): boolean {
  try {
    return readdirSync(dir).every((name) => {
      const p = `${dir}/${name}`;
      return statSync(p).isDirectory() && onlyEmptyDirs(p);
    });
  } catch {
    return false;
  }
}

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { AgentError, ErrorCodes } from '../errors.js';

/** Claims the pid file, refusing when it names another live process (dea_ng did too). */
export function claimPidFile(path: string): () => void {
  const other = readPid(path);
  if (other !== null && other !== process.pid && alive(other)) {
    throw new AgentError(ErrorCodes.PID_FILE_LOCKED, `${path} names a live process (${other}): is another agent running?`);
  }
  writeFileSync(path, `${process.pid}\n`);
  return () => {
    if (readPid(path) === process.pid) rmSync(path, { force: true });
  };
}

function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

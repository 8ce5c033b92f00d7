import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import type { ExitInfo } from './types.js';

/**
 * The exit a supervising parent recorded in `<runDir>/exit_status` (both backends' supervisors
 * write it by rename: 128+N for signal N). -1 when there is no record.
 */
export function readExitRecord(runDir: string): ExitInfo {
  try {
    const status = Number(readFileSync(join(runDir, 'exit_status'), 'utf8').trim());
    if (!Number.isInteger(status)) return { exitStatus: -1, signal: null, event: null };
    return { exitStatus: status, signal: signalName(status), event: null };
  } catch {
    return { exitStatus: -1, signal: null, event: null };
  }
}

/** Shells and our supervisors report death by signal N as 128+N. */
export function signalName(status: number): string | null {
  if (status <= 128) return null;
  const n = status - 128;
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return entry ? entry[0] : null;
}

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appendLogLine, rotateLogs } from './log-files.js';

/** The text of a file the app writes (its state file); null when there is none to read. */
export async function readAppFile(dir: string, path: string): Promise<string | null> {
  try {
    return await readFile(join(dir, path), 'utf8');
  } catch {
    return null;
  }
}

/** The lifecycle's AppFiles port on the real file system. */
export const appFiles = {
  readStateFile: readAppFile,
  rotateLogs,
  appendLog: appendLogLine,
};

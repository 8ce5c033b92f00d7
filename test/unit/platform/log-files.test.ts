import { closeSync, existsSync, mkdirSync, mkdtempSync, rmSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync, writeSync, constants as fsc } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appendLogLine, rotateLogs } from '../../../src/platform/log-files.js';

/** Temp dirs this file made, removed when it is done (also after a failure). */
const madeDirs: string[] = [];
afterAll(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  madeDirs.push(dir);
  return dir;
}

function instanceDir(): string {
  const dir = tempDir('dea-rot-');
  mkdirSync(join(dir, 'logs'));
  return dir;
}

describe('rotateLogs', () => {
  it('moves an oversized log aside and truncates it in place, and the writer carries on at the start', () => {
    const dir = instanceDir();
    const log = join(dir, 'logs', 'stdout.log');
    const fd = openSync(log, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT);
    writeSync(fd, 'x'.repeat(5000));
    expect(rotateLogs(dir, 4096)).toEqual(['stdout.log']);
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('x'.repeat(5000));
    expect(statSync(log).size).toBe(0);
    writeSync(fd, 'after\n');
    closeSync(fd);
    expect(readFileSync(log, 'utf8')).toBe('after\n');
  });

  it('leaves logs under the cap alone', () => {
    const dir = instanceDir();
    writeFileSync(join(dir, 'logs', 'stderr.log'), 'small');
    expect(rotateLogs(dir, 4096)).toEqual([]);
    expect(existsSync(join(dir, 'logs', 'stderr.log.1'))).toBe(false);
  });

  it('never follows a log that the app replaced with a link', () => {
    const dir = instanceDir();
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'y'.repeat(10_000));
    symlinkSync(victim, join(dir, 'logs', 'stdout.log'));
    expect(rotateLogs(dir, 4096)).toEqual([]);
    expect(statSync(victim).size).toBe(10_000);
  });

  it('never follows a logs directory that became a link', () => {
    const dir = tempDir('dea-rot-');
    const elsewhere = tempDir('dea-rot-elsewhere-');
    writeFileSync(join(elsewhere, 'stdout.log'), 'z'.repeat(10_000));
    symlinkSync(elsewhere, join(dir, 'logs'));
    expect(rotateLogs(dir, 4096)).toEqual([]);
    expect(statSync(join(elsewhere, 'stdout.log')).size).toBe(10_000);
    expect(existsSync(join(elsewhere, 'stdout.log.1'))).toBe(false);
  });
});

describe('appendLogLine', () => {
  it('appends a line to the log, adding the newline', () => {
    const dir = instanceDir();
    writeFileSync(join(dir, 'logs', 'stderr.log'), 'app says hi\n');
    expect(appendLogLine(dir, 'stderr.log', '[dea] over quota')).toBe(true);
    expect(readFileSync(join(dir, 'logs', 'stderr.log'), 'utf8')).toBe('app says hi\n[dea] over quota\n');
  });

  it('never writes through a log that the app replaced with a link, nor creates one', () => {
    const dir = instanceDir();
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep');
    symlinkSync(victim, join(dir, 'logs', 'stderr.log'));
    expect(appendLogLine(dir, 'stderr.log', 'x')).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('keep');
    expect(appendLogLine(dir, 'stdout.log', 'x')).toBe(false);
    expect(existsSync(join(dir, 'logs', 'stdout.log'))).toBe(false);
  });
});

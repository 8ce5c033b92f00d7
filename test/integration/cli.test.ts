/**
 * `bin/dea`'s own command line, run for real: help and version on stdout with exit 0,
 * misuse as one line on stderr with exit 2, never a raw Node error code.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../bin/dea', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function dea(args: string[], cwd?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(BIN, args, { cwd, timeout: 30_000, env: { ...process.env, DEA_RUN_SOURCES: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bin/dea command line', () => {
  it.each([['--help'], ['-h']])('%s prints the version and usage, exit 0', async (flag) => {
    const out = await dea([flag]);
    expect(out).toMatchObject({ code: 0, stderr: '' });
    expect(out.stdout.split('\n')[0]).toContain(`dea ${VERSION}`);
    expect(out.stdout).toMatch(/^usage: dea --config FILE/m);
    expect(out.stdout).toContain('--check-config FILE');
  });

  it('--version prints the version, exit 0', async () => {
    expect(await dea(['--version'])).toEqual({ code: 0, stdout: `dea ${VERSION}\n`, stderr: '' });
  });

  it('runs the sources from any working directory, not only the checkout', async () => {
    expect(await dea(['--version'], '/')).toEqual({ code: 0, stdout: `dea ${VERSION}\n`, stderr: '' });
  });

  it.each([
    [['config/dea.yml'], 'dea: unexpected argument "config/dea.yml"; try dea --help\n'],
    [['--frobnicate'], 'dea: unknown option --frobnicate; try dea --help\n'],
    [['--config'], 'dea: --config needs a FILE; try dea --help\n'],
    [[], 'dea: nothing to do: give --config FILE or --check-config FILE; try dea --help\n'],
  ])('%j is misuse: one line on stderr, exit 2', async (args, line) => {
    expect(await dea(args)).toEqual({ code: 2, stdout: '', stderr: line });
  });
});

import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

/**
 * The network's only contact with the system: `ip`, `nft` and `tc` fed a script on stdin
 * (one process per batch, never one per step), and sysctl writes. Arguments are fixed
 * words and names from names.ts; scripts come from the pure builders.
 */
export interface NetCommands {
  /** `ip [-n netns] -batch -` */
  ipBatch(script: string, netns?: string): Promise<void>;
  /** `nft -f -`: one transaction. */
  nft(script: string): Promise<void>;
  /** `nft -j list tables` etc.: a command's output. */
  nftOutput(args: readonly string[]): Promise<string>;
  /** `ip -j ...`: a command's output. */
  ipOutput(args: readonly string[]): Promise<string>;
  /** `tc -batch -` */
  tcBatch(script: string): Promise<void>;
  sysctl(path: string, value: string): Promise<void>;
}

export class CommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, code: number | null) {
    super(`${command} failed (${code}): ${stderr.trim().split('\n').slice(0, 3).join('; ')}`);
    this.name = 'CommandError';
  }
}

export const systemCommands: NetCommands = {
  ipBatch: (script, netns) => run('ip', [...(netns ? ['-n', netns] : []), '-batch', '-'], script).then(() => undefined),
  nft: (script) => run('nft', ['-f', '-'], script).then(() => undefined),
  nftOutput: (args) => run('nft', [...args], ''),
  ipOutput: (args) => run('ip', [...args], ''),
  tcBatch: (script) => run('tc', ['-batch', '-'], script).then(() => undefined),
  sysctl: (path, value) => writeFile(path, value),
};

function run(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new CommandError(`${cmd} ${args.join(' ')}`, err, code))));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

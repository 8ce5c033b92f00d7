/**
 * `bin/deactl`: the verbs, their options and exit codes (0 ok, 1 failure, 2 usage), on
 * commander. Every verb takes --nats, --json and --help; errors are one line on stderr.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { packageVersion } from '../version.js';
import { DeactlError, EXIT_FAILED, EXIT_USAGE } from './errors.js';
import type { GlobalOptions } from './output.js';
import { DEFAULT_NATS } from './session.js';

function positiveInt(what: string, min = 1): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be a whole number ≥ ${min}`);
    return n;
  };
}

function collect<T>(parse: (v: string) => T): (v: string, prev: T[] | undefined) => T[] {
  return (v, prev) => [...(prev ?? []), parse(v)];
}

function envEntry(v: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) throw new InvalidArgumentError('expected KEY=VALUE (KEY: letters, digits, _)');
  return v;
}

/** --nats, --json: on every verb, so `deactl ls --json` and `deactl --json ls` both work. */
function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--nats <url>', 'NATS server of the agents').env('DEA_NATS').default(DEFAULT_NATS))
    .option('--json', 'print JSON for scripts instead of text', false);
}

/**
 * The value given on the command line, before or after the verb (`deactl --json ls`),
 * else from the environment (DEA_NATS), else the default.
 */
function given(cmd: Command, key: string): unknown {
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) chain.push(c);
  for (const wanted of ['cli', 'env']) {
    const c = chain.find((x) => x.getOptionValueSource(key) === wanted);
    if (c) return c.getOptionValue(key);
  }
  return cmd.getOptionValue(key);
}

function globals(cmd: Command): GlobalOptions {
  return { nats: String(given(cmd, 'nats')), json: given(cmd, 'json') === true };
}

type Run = (...args: any[]) => Promise<number>;

/** Loaded when run: `--help` and a usage error answer without loading a verb's imports. */
function verb(program: Command, name: string, load: () => Promise<Run>): Command {
  const cmd = common(program.command(name));
  cmd.action(async (...args: unknown[]) => {
    const self = args[args.length - 1] as Command;
    const run = await load();
    process.exitCode = await run(...args.slice(0, -2), self.opts(), globals(self));
  });
  return cmd;
}

export function buildProgram(): Command {
  const program = new Command('deactl')
    .description('operate DEA agents over NATS: a small cloud controller (push, scale, stop) and an inspector (status, ls, top, watch, files, logs)')
    .version(packageVersion())
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`deactl: ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}; try deactl --help\n`) });
  common(program);
  program.enablePositionalOptions(false);

  verb(program, 'status', async () => (await import('./verbs/status.js')).status)
    .description('list the agents: id, host, stacks, zone, memory and disk free and reserved, instances, backend, varz');
  verb(program, 'push', async () => async (droplet: string, o: any, g: GlobalOptions) => (await import('./verbs/push.js')).push(droplet, { ...o, uri: o.uri ?? [], env: o.env ?? [] }, g))
    .description('serve a droplet (.tgz or a directory), place and start its instances, wait until they run')
    .argument('<droplet>', 'a .tgz droplet, or an app directory to pack (it needs ./startup or staging_info.yml)')
    .requiredOption('--name <name>', 'the app name (also its id on the bus)')
    .option('--instances <k>', 'how many instances', positiveInt('--instances'), 1)
    .option('--mem <mb>', 'memory limit per instance, MB', positiveInt('--mem'), 128)
    .option('--disk <mb>', 'disk limit per instance, MB', positiveInt('--disk'), 256)
    .option('--stack <stack>', 'stack to run on (default: the first one the agents advertise)')
    .option('--uri <host>', 'a route for the app (repeatable)', collect(String))
    .option('--env <KEY=VALUE>', 'an environment variable (repeatable)', collect(envEntry))
    .option('--timeout <secs>', 'give up waiting for instances after this long', positiveInt('--timeout'), 180);
  verb(program, 'ls', async () => async (app: string | undefined, _o: unknown, g: GlobalOptions) => (await import('./verbs/ls.js')).ls(app, g))
    .description('list instances with state, address, uptime, CPU, memory and disk')
    .argument('[app]', 'only this app');
  verb(program, 'top', async () => async (o: any, g: GlobalOptions) => (await import('./verbs/top.js')).top(o.sort, g))
    .description('live view of the instances every 2 s, by CPU or memory (c, m to switch, q to quit)')
    .addOption(new Option('--sort <by>', 'sort by').choices(['cpu', 'mem']).default('cpu'));
  verb(program, 'stop', async () => async (app: string, o: any, g: GlobalOptions) => (await import('./verbs/stop.js')).stop(app, o.index ?? [], g))
    .description("stop an app's instances (all, or the given indices)")
    .argument('<app>')
    .option('--index <i>', 'only this index (repeatable)', collect(positiveInt('--index', 0)));
  verb(program, 'scale', async () => async (app: string, n: number, o: any, g: GlobalOptions) => (await import('./verbs/scale.js')).scale(app, n, o.timeout, g))
    .description('start or stop instances so that the app has N')
    .argument('<app>')
    .argument('<n>', 'the number of instances wanted', positiveInt('N', 0))
    .option('--timeout <secs>', 'give up waiting for new instances after this long', positiveInt('--timeout'), 180);
  verb(program, 'watch', async () => async (subjects: string[], _o: unknown, g: GlobalOptions) => (await import('./verbs/watch.js')).watch(subjects, g))
    .description('print bus traffic as it happens, credentials masked (Ctrl-C stops)')
    .argument('[subjects...]', 'subjects to watch, wildcards allowed (default: all)');
  verb(program, 'files', async () => async (app: string, index: number, path: string | undefined, _o: unknown, g: GlobalOptions) => (await import('./verbs/files.js')).files(app, index, path, g))
    .description("list a directory or print a file of an instance (through the agent's signed URL)")
    .argument('<app>')
    .argument('<index>', 'instance index', positiveInt('INDEX', 0))
    .argument('[path]', 'path inside the instance (default: its top directory)');
  verb(program, 'logs', async () => async (app: string, o: any, g: GlobalOptions) => (await import('./verbs/logs.js')).logs(app, o.index ?? 0, o.follow === true, g))
    .description("print an instance's stdout and stderr logs; --follow keeps streaming")
    .argument('<app>')
    .option('--index <i>', 'instance index (default 0)', positiveInt('--index', 0))
    .option('-f, --follow', 'keep printing what the app writes (Ctrl-C stops)');
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with their own code 0.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (err instanceof DeactlError) {
      process.stderr.write(`deactl: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`deactl: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT_FAILED;
  }
}

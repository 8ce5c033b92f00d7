/**
 * `bin/dea`: turns the command line into one command and the outcome into an exit code
 * (0 ok, 1 failed, 2 misuse). Everything it prints comes from messages.ts.
 */
import { ConfigError } from '../errors.js';
import { parseCommand, type Command } from './args.js';
import { ExitCodes, helpText, misuseLine, versionLine } from './messages.js';
import { packageVersion } from './version.js';

async function execute(command: Command): Promise<number> {
  switch (command.kind) {
    case 'help':
      process.stdout.write(helpText(packageVersion()));
      return ExitCodes.ok;
    case 'version':
      process.stdout.write(versionLine(packageVersion()));
      return ExitCodes.ok;
    case 'misuse':
      process.stderr.write(misuseLine(command.message));
      return ExitCodes.misuse;
    // Loaded only when needed: help and misuse answer without loading the whole agent.
    case 'check':
      return (await import('../main.js')).checkConfig(command.configPath);
    case 'run':
      return (await import('../main.js')).runAgent(command.configPath);
  }
}

execute(parseCommand(process.argv.slice(2))).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`dea: ${String(err)}\n`);
    process.exit(ExitCodes.failed);
  },
);

/**
 * Everything `bin/dea` says to a person at the terminal (not the JSON log), in one table,
 * so the wording is reviewed in one place and tests can compare against it.
 */
export const USAGE = [
  'usage: dea --config FILE        run the agent in the foreground (until SIGTERM or SIGINT)',
  '       dea --check-config FILE  validate a config file, list every problem, exit 0 or 1',
  '       dea --help | --version',
].join('\n');

/** One line each, printed to stderr as `dea: <message>; try dea --help`, exit 2. */
export const Misuse = {
  unknownOption: (option: string) => `unknown option ${option}`,
  unexpectedArgument: (arg: string) => `unexpected argument ${JSON.stringify(arg)}`,
  missingValue: (option: string) => `${option} needs a FILE`,
  noValueAllowed: (option: string) => `${option} takes no value`,
  bothCommands: () => '--config and --check-config cannot be used together',
  nothingToDo: () => 'nothing to do: give --config FILE or --check-config FILE',
} as const;

export const ExitCodes = {
  ok: 0,
  failed: 1,
  misuse: 2,
} as const;

export function misuseLine(message: string): string {
  return `dea: ${message}; try dea --help\n`;
}

/** `--help`: who we are, then the usage. */
export function helpText(version: string): string {
  return `dea ${version}: a droplet execution agent (Cloud Foundry DEA wire protocol)\n${USAGE}\n`;
}

export function versionLine(version: string): string {
  return `dea ${version}\n`;
}

export function checkConfigValid(path: string): string {
  return `${path}: valid\n`;
}

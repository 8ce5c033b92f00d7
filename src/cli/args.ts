/**
 * `bin/dea`'s command line → one command. node:util parseArgs runs non-strict so every
 * misuse becomes a message of ours (messages.ts) instead of a raw ERR_PARSE_ARGS_* error.
 */
import { parseArgs } from 'node:util';
import { Misuse } from './messages.js';

export type Command =
  | { readonly kind: 'run'; readonly configPath: string }
  | { readonly kind: 'check'; readonly configPath: string }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'misuse'; readonly message: string };

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'check-config': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

export function parseCommand(argv: readonly string[]): Command {
  const { values, tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    const problem = misuseOf(token);
    if (problem) return { kind: 'misuse', message: problem };
  }
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const run = values.config;
  const check = values['check-config'];
  if (typeof run === 'string' && typeof check === 'string') return { kind: 'misuse', message: Misuse.bothCommands() };
  if (typeof check === 'string') return { kind: 'check', configPath: check };
  if (typeof run === 'string') return { kind: 'run', configPath: run };
  return { kind: 'misuse', message: Misuse.nothingToDo() };
}

function misuseOf(token: Token): string | undefined {
  if (token.kind === 'positional') return Misuse.unexpectedArgument(token.value);
  if (token.kind !== 'option') return undefined;
  const known = OPTIONS[token.name as keyof typeof OPTIONS];
  if (!known) return Misuse.unknownOption(token.rawName);
  if (known.type === 'boolean') return token.value === undefined ? undefined : Misuse.noValueAllowed(token.rawName);
  // Non-strict parsing takes the next word as the value even when it is another option.
  const missing = token.value === undefined || token.value === '' || (!token.inlineValue && token.value.startsWith('-'));
  return missing ? Misuse.missingValue(token.rawName) : undefined;
}

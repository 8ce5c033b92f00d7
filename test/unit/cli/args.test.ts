import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/cli/args.js';
import { Misuse } from '../../../src/cli/messages.js';

describe('parseCommand', () => {
  it.each([
    [['--config', 'a.yml'], { kind: 'run', configPath: 'a.yml' }],
    [['-c', 'a.yml'], { kind: 'run', configPath: 'a.yml' }],
    [['--config=a.yml'], { kind: 'run', configPath: 'a.yml' }],
    [['--check-config', 'a.yml'], { kind: 'check', configPath: 'a.yml' }],
    [['--help'], { kind: 'help' }],
    [['-h'], { kind: 'help' }],
    [['--config', 'a.yml', '--help'], { kind: 'help' }],
    [['--version'], { kind: 'version' }],
    [['-V'], { kind: 'version' }],
  ])('%j', (argv, command) => {
    expect(parseCommand(argv)).toEqual(command);
  });

  it.each([
    [['a.yml'], Misuse.unexpectedArgument('a.yml')],
    [['--config', 'a.yml', 'b.yml'], Misuse.unexpectedArgument('b.yml')],
    [['--', '--config'], Misuse.unexpectedArgument('--config')],
    [['--frobnicate'], Misuse.unknownOption('--frobnicate')],
    [['-x'], Misuse.unknownOption('-x')],
    [['--config'], Misuse.missingValue('--config')],
    [['-c'], Misuse.missingValue('-c')],
    [['--config='], Misuse.missingValue('--config')],
    [['--config', '--help'], Misuse.missingValue('--config')],
    [['--help=yes'], Misuse.noValueAllowed('--help')],
    [['--config', 'a', '--check-config', 'b'], Misuse.bothCommands()],
    [[], Misuse.nothingToDo()],
    // Misuse wins over help: a typo next to --help is still reported.
    [['--help', '--bogus'], Misuse.unknownOption('--bogus')],
  ])('%j is misuse', (argv, message) => {
    expect(parseCommand(argv)).toEqual({ kind: 'misuse', message });
  });

  it('takes a config path that starts with a dash when it is given inline', () => {
    expect(parseCommand(['--config=-odd.yml'])).toEqual({ kind: 'run', configPath: '-odd.yml' });
  });
});

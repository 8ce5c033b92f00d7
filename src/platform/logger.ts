import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';

/**
 * The agent logs JSON lines with a stable dotted event name in `event`.
 * Modules receive a Logger and bind their own fields with `child`.
 */
export type Logger = PinoLogger;

export interface LoggerOptions {
  level: LevelWithSilent;
  /** null: stdout. */
  file: string | null;
}

export function createLogger(opts: LoggerOptions): Logger {
  const destination = opts.file
    ? pino.destination({ dest: opts.file, mkdir: true, sync: false })
    : pino.destination({ fd: 1, sync: false });
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Credentials never reach a log line, whatever a caller passes.
      redact: { paths: ['password', '*.password', 'credentials', '*.credentials'], censor: '[redacted]' },
    },
    destination,
  );
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

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

/** The longest the agent waits for its last lines at exit. */
const FLUSH_WAIT_MS = 500;

/**
 * Call right after the last line before exiting: resolves once that line is written.
 * pino's flush() does not wait for a write in flight, and process.exit() would then write
 * the rest synchronously ahead of it (the last lines came out of order, or not at all).
 * The destination emits `drain` when its writes are done; an idle one never does, hence
 * the cap.
 */
export function flushLogger(logger: Logger): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { once?: (event: 'drain', fn: () => void) => void }
    | undefined;
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FLUSH_WAIT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    if (typeof stream?.once === 'function') stream.once('drain', done);
    else done();
    logger.flush();
  });
}

/** A logger that drops everything, for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * systemd's notification protocol (sd_notify(3)), as the agent uses it under
 * `config/dea.service` (Type=notify): READY=1 once it serves, STATUS= lines, STOPPING=1
 * when shutdown starts, WATCHDOG=1 every half of WatchdogSec. Without NOTIFY_SOCKET
 * (not started by systemd) every call is a no-op. The datagrams themselves are sent by a
 * helper process (`notify-helper.ts`); this module only decides what to send and when.
 */
import type { Logger } from './logger.js';
import { spawnNotifyHelper } from './notify-helper.js';

/** What the composition root tells systemd. Every method is cheap and never throws. */
export interface SdNotify {
  /**
   * READY=1 with `status()` as its status line: the unit counts as started. From then on
   * STATUS= follows `status()` (polled) until stopping().
   */
  ready(status: () => string): void;
  /** STATUS=, sent only when it differs from the last one (callers may poll). */
  status(text: string): void;
  /** STOPPING=1 with a status line: a stop is under way, not a crash. */
  stopping(status: string): void;
  /** Stops the watchdog and lets the helper send what is queued; resolves when it is done. */
  close(): Promise<void>;
}

/** One message (newline-separated assignments) to one datagram. */
export interface NotifySender {
  send(message: string): void;
  close(): Promise<void>;
}

/** What systemd put in our environment for us. */
export interface NotifyEnv {
  socket: string;
  /** Half of WATCHDOG_USEC in ms, or null when no watchdog is asked of this process. */
  watchdogEveryMs: number | null;
}

/** Repeats `fn` every `ms`; returns the cancel. Injected so tests need no real timers. */
export type Every = (ms: number, fn: () => void) => () => void;

export const NOTIFY_ENV_KEYS = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/**
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID as sd_watchdog_enabled(3) does:
 * the watchdog is ours only when WATCHDOG_PID is unset or names `pid`.
 */
export function notifyEnvFrom(env: NodeJS.ProcessEnv, pid: number): NotifyEnv | null {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return null;
  return { socket, watchdogEveryMs: watchdogEveryMs(env, pid) };
}

function watchdogEveryMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  const owner = env.WATCHDOG_PID;
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** A STATUS= value is one line: a newline would start another assignment. */
export function statusLine(text: string): string {
  return `STATUS=${text.replace(/[\r\n\0]+/g, ' ')}`;
}

export const noopSdNotify: SdNotify = {
  ready: () => undefined,
  status: () => undefined,
  stopping: () => undefined,
  close: async () => undefined,
};

const realEvery: Every = (ms, fn) => {
  // unref: the watchdog alone must not keep a finished agent alive.
  const timer = setInterval(fn, ms).unref();
  return () => clearInterval(timer);
};

/** How often STATUS= is brought up to date after READY=1 (sent only when it changed). */
export const STATUS_EVERY_MS = 5_000;

/** The protocol over a sender; `watchdogEveryMs` starts WATCHDOG=1 pings at once. */
export function createSdNotify(sender: NotifySender, opts: { watchdogEveryMs: number | null; every?: Every }): SdNotify {
  const every = opts.every ?? realEvery;
  let lastStatus: string | undefined;
  let stopFollowing = () => {};
  const cancelWatchdog = opts.watchdogEveryMs === null ? () => undefined : every(opts.watchdogEveryMs, () => sender.send('WATCHDOG=1'));
  const withStatus = (head: string, text: string) => {
    lastStatus = statusLine(text);
    sender.send(`${head}\n${lastStatus}`);
  };
  const status = (text: string) => {
    const line = statusLine(text);
    if (line === lastStatus) return;
    lastStatus = line;
    sender.send(line);
  };
  return {
    ready: (text) => {
      withStatus('READY=1', text());
      stopFollowing();
      stopFollowing = every(STATUS_EVERY_MS, () => status(text()));
    },
    status,
    stopping: (text) => {
      stopFollowing();
      withStatus('STOPPING=1', text);
    },
    close: async () => {
      stopFollowing();
      cancelWatchdog();
      await sender.close();
    },
  };
}

/**
 * The agent's notifier: the real protocol when systemd gave us NOTIFY_SOCKET, else a
 * no-op. Takes the variables out of `env` (sd_notify's unset_environment): supervisors
 * and apps the agent starts must not inherit a way to speak to systemd for the unit.
 */
export function openSdNotify(opts: { libexecDir: string; logger: Logger; env?: NodeJS.ProcessEnv; pid?: number }): SdNotify {
  const env = opts.env ?? process.env;
  const found = notifyEnvFrom(env, opts.pid ?? process.pid);
  for (const key of NOTIFY_ENV_KEYS) delete env[key];
  if (!found) return noopSdNotify;
  const sender = spawnNotifyHelper({ libexecDir: opts.libexecDir, socket: found.socket, logger: opts.logger });
  if (!sender) return noopSdNotify;
  opts.logger.info({ event: 'systemd.notify.enabled', socket: found.socket, watchdogEveryMs: found.watchdogEveryMs }, 'telling systemd how the agent is doing');
  return createSdNotify(sender, { watchdogEveryMs: found.watchdogEveryMs });
}

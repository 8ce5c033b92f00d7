/**
 * The process's signals, listened to from the moment the config is loaded: a TERM or INT
 * while the agent is still starting (NATS unreachable, say) must end in the same clean
 * exit as one later, not in Node's default death by signal with the pid file left behind.
 */
import type { Logger } from './logger.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

export interface ProcessSignals {
  /** Aborted on the first TERM, INT or QUIT; `reason` is the signal's name. */
  readonly stopping: AbortSignal;
  /** USR1 (leave placement) calls this; before the agent is up there is nothing to leave. */
  onLeavePlacement(fn: () => void): void;
  /**
   * USR2 (evacuate) calls this. One received before the agent is up is kept and acted on
   * as soon as `fn` is given: a drain asked for must not be lost while NATS is unreachable.
   */
  onEvacuate(fn: () => void): void;
  /** Removes the listeners (tests; the process normally just exits). */
  dispose(): void;
}

export function watchProcessSignals(logger: Logger): ProcessSignals {
  const controller = new AbortController();
  let leave: (() => void) | undefined;
  let evacuate: (() => void) | undefined;
  let evacuationAsked = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      logger.info({ event: 'agent.signal.ignored', signal }, `received ${signal} again: already shutting down`);
      return;
    }
    logger.info({ event: 'agent.signal', signal }, `received ${signal}`);
    controller.abort(signal);
  };
  const onUsr1 = () => {
    if (leave) leave();
    else logger.info({ event: 'agent.signal.ignored', signal: 'SIGUSR1' }, 'received SIGUSR1 before the agent was up: ignored');
  };
  const onUsr2 = () => {
    logger.info({ event: 'agent.signal', signal: 'SIGUSR2' }, 'received SIGUSR2');
    if (evacuate) evacuate();
    else evacuationAsked = true;
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onStop);
  process.on('SIGUSR1', onUsr1);
  process.on('SIGUSR2', onUsr2);
  return {
    stopping: controller.signal,
    onLeavePlacement: (fn) => {
      leave = fn;
    },
    onEvacuate: (fn) => {
      evacuate = fn;
      if (evacuationAsked) fn();
    },
    dispose: () => {
      for (const sig of STOP_SIGNALS) process.off(sig, onStop);
      process.off('SIGUSR1', onUsr1);
      process.off('SIGUSR2', onUsr2);
    },
  };
}

/** Resolves when `signal` aborts (at once if it already has). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

import { AgentError, ErrorCodes } from '../errors.js';
import type { InstanceState } from './types.js';

/**
 * The one transition table of an instance (protocol §6.2). Nothing else decides
 * which state may follow which; side effects hang off transitions elsewhere.
 */
const TRANSITIONS: Readonly<Record<InstanceState, readonly InstanceState[]>> = {
  BORN: ['STARTING', 'CRASHED', 'STOPPED', 'EVACUATING'],
  STARTING: ['RUNNING', 'CRASHED', 'STOPPING', 'EVACUATING'],
  RUNNING: ['CRASHED', 'STOPPING', 'EVACUATING'],
  EVACUATING: ['CRASHED', 'STOPPING'],
  // A stuck stop may be retried (dea_ng's 60 s STOPPING reaper).
  STOPPING: ['STOPPED', 'STOPPING'],
  RESUMING: ['RUNNING', 'STOPPING', 'CRASHED', 'EVACUATING'],
  STOPPED: [],
  CRASHED: [],
};

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return TRANSITIONS[from].includes(to);
}

export class TransitionError extends AgentError {
  readonly from: InstanceState;
  readonly to: InstanceState;
  constructor(from: InstanceState, to: InstanceState) {
    super(ErrorCodes.TRANSITION_INVALID, `Cannot transition from ${from} to ${to}`);
    this.name = 'TransitionError';
    this.from = from;
    this.to = to;
  }
}

/** States whose memory limit counts as reserved (protocol §8.1). */
export const MEMORY_RESERVING: ReadonlySet<InstanceState> = new Set(['BORN', 'STARTING', 'RUNNING', 'STOPPING']);
/** States whose disk limit counts as reserved; a crash keeps its directory. */
export const DISK_RESERVING: ReadonlySet<InstanceState> = new Set([
  'BORN',
  'STARTING',
  'RUNNING',
  'STOPPING',
  'CRASHED',
]);
/** States `dea.stop` acts on (protocol §3.2). */
export const STOPPABLE: ReadonlySet<InstanceState> = new Set(['BORN', 'STARTING', 'RUNNING', 'STOPPING', 'EVACUATING']);
/** States whose routes are registered and re-registered (protocol §7.3). */
export const ROUTABLE: ReadonlySet<InstanceState> = new Set(['RUNNING', 'EVACUATING']);
/** States in which an instance has (or may have) a live process. */
export const LIVE: ReadonlySet<InstanceState> = new Set(['STARTING', 'RUNNING', 'STOPPING', 'EVACUATING', 'RESUMING']);
/** States in which the app's process ending (or being killed for a quota) is a crash. */
export const APP_OWNED: ReadonlySet<InstanceState> = new Set(['STARTING', 'RUNNING', 'EVACUATING']);
/**
 * States an evacuation waits on (protocol §11.2): while an instance is in one, it may
 * still serve and has not been moved elsewhere. STOPPING ones are on their way out.
 */
export const EVACUATION_WAITS_ON: ReadonlySet<InstanceState> = new Set(['BORN', 'STARTING', 'RUNNING', 'EVACUATING', 'RESUMING']);

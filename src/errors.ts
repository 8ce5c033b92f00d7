/**
 * The closed catalogue of agent errors. Every error has a stable `code`; the ones that
 * end an instance carry the user-facing `exitDescription` that heartbeats and
 * droplet.exited report (dea_ng's wording, protocol §6.5).
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'DEA_CONFIG_INVALID',
  MESSAGE_INVALID: 'DEA_MESSAGE_INVALID',
  TRANSITION_INVALID: 'DEA_TRANSITION_INVALID',
  RESOURCES_INSUFFICIENT: 'DEA_RESOURCES_INSUFFICIENT',
  DROPLET_DOWNLOAD_FAILED: 'DEA_DROPLET_DOWNLOAD_FAILED',
  DROPLET_SHA1_MISMATCH: 'DEA_DROPLET_SHA1_MISMATCH',
  DROPLET_UNSAFE: 'DEA_DROPLET_UNSAFE',
  DROPLET_CORRUPT: 'DEA_DROPLET_CORRUPT',
  STACK_UNKNOWN: 'DEA_STACK_UNKNOWN',
  START_COMMAND_MISSING: 'DEA_START_COMMAND_MISSING',
  HEALTH_CHECK_FAILED: 'DEA_HEALTH_CHECK_FAILED',
  BACKEND_FAILED: 'DEA_BACKEND_FAILED',
  PID_FILE_LOCKED: 'DEA_PID_FILE_LOCKED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** User-facing exit descriptions, exactly as dea_ng wrote them. */
export const ExitDescriptions = {
  notEnoughMemory: 'Not enough memory resource available.',
  notEnoughDisk: 'Not enough disk resource available.',
  failedToStart: 'failed to start',
  missingStartCommand: 'missing start command',
  healthCheckTimeout: 'failed to accept connections within health check timeout',
  appExited: 'app instance exited',
  outOfMemory: 'out of memory',
  cannotBeDetermined: 'cannot be determined',
  unknown: 'unknown',
} as const;

export class AgentError extends Error {
  readonly code: ErrorCode;
  /** What an instance ended by this error reports; `failed to start` unless said otherwise. */
  readonly exitDescription: string;

  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; exitDescription?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AgentError';
    this.code = code;
    this.exitDescription = opts.exitDescription ?? ExitDescriptions.failedToStart;
  }
}

export class ConfigError extends AgentError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(ErrorCodes.CONFIG_INVALID, `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class MessageError extends AgentError {
  readonly problems: readonly string[];
  constructor(subject: string, problems: readonly string[]) {
    super(ErrorCodes.MESSAGE_INVALID, `invalid ${subject} message: ${problems.join('; ')}`);
    this.name = 'MessageError';
    this.problems = problems;
  }
}

export function isAgentError(err: unknown): err is AgentError {
  return err instanceof AgentError;
}

/** The exit description an error gives an instance that it ended. */
export function exitDescriptionOf(err: unknown): string {
  return isAgentError(err) ? err.exitDescription : ExitDescriptions.failedToStart;
}

/**
 * deactl's failures: one line that says what went wrong and what to do, and the exit code
 * scripts rely on (1 failure, 2 usage).
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class DeactlError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
    this.name = 'DeactlError';
  }
}

export const fail = (message: string): DeactlError => new DeactlError(message, EXIT_FAILED);
export const usage = (message: string): DeactlError => new DeactlError(message, EXIT_USAGE);

/** Every hint in one place, so the wording stays consistent across verbs. */
export const Hints = {
  noAgents: (url: string) =>
    `no agent answered on ${url}: start one (bin/dea --config FILE, or npm run dev) or pass --nats URL of the agents' NATS`,
  natsDown: (url: string, why: string) =>
    `cannot reach NATS at ${url} (${why}): start nats-server (npm run dev starts one) or pass --nats URL / set DEA_NATS`,
  unknownApp: (app: string) => `no agent runs an app named ${JSON.stringify(app)}: see deactl ls for the apps there are`,
  noIndex: (app: string, index: number) => `app ${JSON.stringify(app)} has no instance ${index}: see deactl ls ${app}`,
} as const;

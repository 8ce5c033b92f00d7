import type { LaunchSpec } from './types.js';

const BASE_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The app's environment, as every backend hands it over: a fixed PATH, then the spec's
 * variables in order, and a v2 start command in DEA_START_COMMAND for the start script
 * (the command is the app's own shell command; it is never spliced into ours).
 */
export function appEnv(spec: LaunchSpec): Record<string, string> {
  const env: Record<string, string> = { PATH: BASE_PATH };
  for (const [k, v] of spec.env) env[k] = v;
  if (spec.mode.kind === 'v2') env.DEA_START_COMMAND = spec.mode.startCommand;
  return env;
}

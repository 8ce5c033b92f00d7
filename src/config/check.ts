/**
 * `bin/dea --check-config FILE`: validate without starting anything. Every problem comes
 * back at once so an operator fixes the file in one pass.
 */
import { ConfigError } from '../errors.js';
import { loadConfig, systemHostFacts } from './load.js';
import type { HostFacts } from './types.js';

export interface ConfigCheckResult {
  readonly ok: boolean;
  readonly problems: string[];
}

export function checkConfigFile(path: string, host: HostFacts = systemHostFacts): ConfigCheckResult {
  try {
    loadConfig(path, host);
    return { ok: true, problems: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problems: [...err.problems] };
    throw err;
  }
}

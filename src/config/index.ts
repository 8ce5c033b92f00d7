/** The config module's public API; every key is documented in config/dea.yml. */
export type {
  AgentConfig,
  BackendConfig,
  HostFacts,
  InstanceConfig,
  IntervalsConfig,
  LogLevel,
  ResourcesConfig,
  StackConfig,
  StatusConfig,
} from './types.js';
export { parseConfig, loadConfig, systemHostFacts, scrubCredentials } from './load.js';
export { checkConfigFile, type ConfigCheckResult } from './check.js';
export { configSchema, isNatsUrl, LOG_LEVELS, type RawConfig } from './schema.js';

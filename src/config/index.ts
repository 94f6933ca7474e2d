// NovaNET configuration: spec §10 plus NovaNET's additions (docs/configuration.md).
export {
  ConfigError,
  type ConfigProblem,
  type ConfigSource,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  redactConfig,
} from "./load.js";
export { toNetworkConfig } from "./network.js";
export {
  CONFIG_ENV,
  defaultConfig,
  type KeyEntry,
  type KeyPath,
  type KeySpec,
  type Kind,
  keys,
  type LogLevel,
  type NovanetConfig,
  type Section,
  schema,
  sections,
} from "./schema.js";

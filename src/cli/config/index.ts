/**
 * `beam.config.yaml`: backends with priorities and options, named shares
 * (`tunnels:`) and named connections (`connect:`). This folder reads and
 * validates the file; it starts nothing. Every problem is reported as
 * `FILE:LINE: path.to.key: what is wrong`, all of them at once, in a
 * `ConfigError`. docs/configuration.md is the user's reference.
 */
export {
  ACCESS_MODES, BUILTIN_BACKENDS, CONFIG_FILE_NAME, CONFIG_VERSION, ConfigError, ENTRY_NAME_RE, MAX_CONFIG_BYTES, STRATEGIES
} from './schema.ts'
export type {
  AccessMode, AtorBackendConfig, BackendSettings, BackendsConfig, BeamConfig, ConfigIssue, ConnectConfig, DashboardConfig, DirectBackendConfig,
  ExtraBackendConfig, HostPort, I2pBackendConfig, IceServerConfig, LoadConfigOptions, ParseConfigOptions, ServiceConfig, Strategy,
  TorBackendConfig, TunnelConfig
} from './schema.ts'
export { backendOrder } from './backends-section.ts'
export { findConfigFile, loadConfig, parseConfig } from './load.ts'
export type { FindConfigOptions } from './load.ts'
export { getTunnel, ownEntry, resolveName } from './lookup.ts'
export { suggest } from './suggest.ts'
export { getConfigValue, isCredentialKey, listConfigValues, setConfigValue, splitKey } from './edit.ts'

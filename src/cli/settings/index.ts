/**
 * Settings flow one way: flags (with the variables commander and
 * secret-input.ts read for them) and the config file merge into typed
 * settings once (node.ts, backends.ts), and the library's `BeamInit` is
 * built once from them (init.ts). Nothing is turned back into flag text.
 */
export { backendSetup, createBackends, resolveBackends } from './backends.ts'
export type { AtorSettings, BackendSetup, BackendSetupOptions, CreateBackendsOptions, I2pSettings, SelectedBackends, TorSettings } from './backends.ts'
export { chooseIceServers, envYes, iceServersOf, nodeSettings } from './node.ts'
export type { IceSource } from './node.ts'
export type { NodeSettings } from './node.ts'
export { toBeamInit } from './init.ts'
export type { CliBeamInit, CommandInit, ToBeamInitOptions } from './init.ts'
export { addConfigOption, loadCliConfig } from './file.ts'
export { shareSettings } from './share.ts'
export type { ShareFlags, ShareSettings, ShareSource } from './share.ts'
export { connectSettings, DEFAULT_TIMEOUT, I2P_TIMEOUT } from './connect.ts'
export type { ConnectFlags, ConnectSettings } from './connect.ts'

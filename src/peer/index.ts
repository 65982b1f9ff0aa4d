/**
 * The beam node: the library's composition root. Builds the libp2p node and
 * wires the tunnel control plane (signaling), relay policy and local
 * endpoints (tunnel) together.
 */
export * from './node/index.ts'
export * from './share/index.ts'
export * from './connect/index.ts'
export * from './discovery/index.ts'
export * from './diagnostics/index.ts'
export * from './control/index.ts'
export * from './libp2p/index.ts'
export { silentLogger } from './logger.ts'
export type { Logger } from './logger.ts'
export * from './errors.ts'
export * from './constants.ts'

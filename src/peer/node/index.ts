/** The beam node and its lifecycle: createBeam, start/stop, identity and access secret, the app API (streams, messages, calls) and node-level connectivity events. */
export { createBeam, BeamNode } from './node.ts'
export type { BeamInit, BeamNodeEvents, RelayStats, HandleOptions, NodeStatus } from './node.ts'
export type { PeerPathEvent, RelayEvent, AddressesEvent } from './connectivity.ts'
export { loadOrCreateIdentity, ephemeralIdentity, parseIdentity, writeIdentity, exposedToOthers, OPEN_TO_OTHERS } from './identity.ts'
export type { LoadedIdentity, ExposedPath } from './identity.ts'
export { loadOrCreateAccessSecret, newAccessSecret } from './secret.ts'
export { MESSAGE_PROTOCOL, CALL_PROTOCOL, MAX_APP_MESSAGE, MessageTooLargeError, RemoteCallError } from './app.ts'
export type { AppSender, MessageHandler, CallHandler } from './app.ts'

/**
 * The beam node: the library's composition root. Builds the libp2p node and
 * wires the tunnel control plane (signaling), relay policy and local
 * endpoints (tunnel) together.
 */
export { createBeam, BeamNode } from './node.ts'
export type { BeamInit, BeamNodeEvents, RelayStats } from './node.ts'
export { Share } from './share.ts'
export type { ShareOptions, ShareEvents, ServiceTarget, AccessPolicy, TunnelOpenEvent, TunnelCloseEvent, RefusedEvent, ServiceUnavailableEvent } from './share.ts'
export { ConnectTunnel } from './connect.ts'
export type { ConnectOptions, ConnectEvents, UpgradeEvent } from './connect.ts'
export type { PathInfo, PathTransport } from './path.ts'
export { transportOf } from './path.ts'
export type { IceServer, TransportSelection } from './libp2p-options.ts'
export { parseTarget, parsePeerId } from './target.ts'
export type { Target } from './target.ts'
export { encodeConnectString, decodeConnectString, looksLikeConnectString, InvalidConnectStringError, CONNECT_STRING_PREFIX, CONNECT_STRING_VERSION } from './connect-string.ts'
export type { ConnectString } from './connect-string.ts'
export { loadOrCreateIdentity, ephemeralIdentity, parseIdentity, writeIdentity } from './identity.ts'
export type { LoadedIdentity } from './identity.ts'
export { loadOrCreateAccessSecret, newAccessSecret } from './secret.ts'
export { loadBootstrapFile, parseBootstrapFile, parsePeerMultiaddr, stunServersOf, DEFAULT_BOOTSTRAP_FILE } from './bootstrap.ts'
export type { BootstrapList, BootstrapNode } from './bootstrap.ts'
export { AddressBook } from './address-book.ts'
export { silentLogger } from './logger.ts'
export type { Logger } from './logger.ts'
export * from './errors.ts'
export * from './constants.ts'

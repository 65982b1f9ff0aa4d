/** Connecting to a share: the local listener, the dial race, choosing and keeping the best path, and upgrading relayed tunnels. */
export { ConnectTunnel } from './connect.ts'
export type { ConnectOptions, ConnectEvents, UpgradeEvent, ConnectTunnelOpenEvent, ConnectTunnelCloseEvent, ConnectTunnelFailedEvent } from './events.ts'
export type { EarlyData } from './tunnel-stream.ts'
export type { PathInfo, PathTransport } from './path.ts'
export { transportOf } from './path.ts'
export type { DialAttempt, AddressClass } from './dialer.ts'

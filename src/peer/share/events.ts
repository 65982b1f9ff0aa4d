/** The public shapes of a share: its options, the services it offers, its events. */
import type { ShareLimitOptions } from './share-limits.ts'

/** A local service offered through the share: a TCP port, or a unix socket offered under a port number. */
export interface ServiceTarget {
  /** The address the service listens on (TCP). @default '127.0.0.1' */
  host?: string
  /**
   * Its TCP port, 1-65535; for a unix socket service, the number connectors
   * ask for it by (the tunnel request names services by number).
   */
  port: number
  /** The service's unix socket: set, the share connects there instead of to `host:port`. @default unset */
  path?: string
  /**
   * A UDP service: each datagram tunnel gets its own UDP socket connected to
   * `host:port`, and carries datagrams both ways until it is idle for
   * `datagramIdleTimeout`. A TCP and a UDP service may have the same port.
   * @default false
   */
  udp?: boolean
}

/** A service as the share runs it: a {@link ServiceTarget} with `host` filled in. */
export interface SharedService extends ServiceTarget {
  /** The address the TCP service listens on (the default filled in; unused with `path`). */
  host: string
}

/** Who may open tunnels. */
export type AccessPolicy =
  /** Holders of the secret (carried in the connect string). The default. */
  | {
    /** Admit holders of `secret`. */
    mode: 'secret'
    /** 32 random bytes, e.g. from {@link newAccessSecret}. */
    secret: Uint8Array
  }
  /** Only these peer ids, as authenticated by the Noise handshake. */
  | {
    /** Admit only the listed peers. */
    mode: 'allow'
    /** Peer ids (`12D3Koo…`) that may open tunnels. */
    peers: string[]
  }
  /** Anyone who can reach the peer. */
  | {
    /** Admit anyone. */
    mode: 'public'
  }

/** Options of {@link BeamNode.share}; the caps on what peers may hold at once are {@link ShareLimitOptions}. */
export interface ShareOptions extends ShareLimitOptions {
  /** Services to offer; the first is the default for connectors that name no port. */
  services: ServiceTarget[]
  /** Who may open tunnels. */
  access: AccessPolicy
  /** How long to wait for the local service to accept, in ms. @default 5000 */
  serviceConnectTimeout?: number
  /** How long a connector has to send its request, in ms. @default 10000 */
  handshakeTimeout?: number
  /** Tunnel streams per connection at once. @default 4096 */
  maxStreams?: number
  /**
   * Peer ids of HTTP gateways (`beam gateway`) admitted besides the access
   * policy: a share that opts in to a gateway names it here, and the gateway
   * then opens tunnels for its web visitors. @default []
   */
  gateways?: string[]
  /** A datagram (UDP) tunnel that carries nothing either way for this long is closed, in ms. @default 60000 */
  datagramIdleTimeout?: number
}

/** {@link ShareEvents} `tunnel:open`: a connector's tunnel reached the local service. */
export interface TunnelOpenEvent {
  /** Number of the tunnel, unique within the share. */
  id: number
  /** The connector's peer id. */
  remotePeer: string
  /** The local service's host (an IPv6 address without brackets). */
  host: string
  /** The local service's port (for a unix socket service, the number connectors ask for it by). */
  port: number
  /** The service's unix socket, when it is one (`host` is then unused). @default unset */
  path?: string
  /** Set for a datagram tunnel to a UDP service. @default unset */
  udp?: true
}
/** {@link ShareEvents} `tunnel:close`: a tunnel ended. */
export interface TunnelCloseEvent extends TunnelOpenEvent {
  /** Bytes from the service to the peer. */
  sent: number
  /** Bytes from the peer to the service. */
  received: number
  /** Set when the tunnel ended by an error or a reset. */
  error?: string
}
/** {@link Share.liveTunnels}: an open tunnel and its byte counts so far. */
export interface LiveTunnel extends TunnelOpenEvent {
  /** Bytes from the service to the peer so far. */
  sent: number
  /** Bytes from the peer to the service so far. */
  received: number
}
/** {@link ShareEvents} `refused`: the access policy refused a peer. */
export interface RefusedEvent {
  /** The refused peer id. */
  remotePeer: string
  /** Why, in one line. */
  reason: string
}
/** {@link ShareEvents} `service:unavailable`: the local service did not accept a connection. */
export interface ServiceUnavailableEvent {
  /** The connector whose tunnel failed. */
  remotePeer: string
  /** The local service's host (an IPv6 address without brackets). */
  host: string
  /** The local service's port (for a unix socket service, the number connectors ask for it by). */
  port: number
  /** The service's unix socket, when it is one (`host` is then unused). @default unset */
  path?: string
  /** Set for a UDP service. @default unset */
  udp?: true
  /** The connect error, in one line, with the service's host and port (the connector is told only that the service is unavailable). */
  reason: string
}

/** Events of a {@link Share}. */
export interface ShareEvents {
  /** A connector's tunnel reached the local service. */
  'tunnel:open': [TunnelOpenEvent]
  /** A tunnel ended; `sent` = bytes from the service to the peer. */
  'tunnel:close': [TunnelCloseEvent]
  /** A peer was refused by the access policy. */
  refused: [RefusedEvent]
  /** The local service did not accept a connection. */
  'service:unavailable': [ServiceUnavailableEvent]
}

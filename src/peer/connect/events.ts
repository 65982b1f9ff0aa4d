/** The options and events of a {@link ConnectTunnel} (types only). */
import type { TunnelRefusedError } from '../errors.ts'
import type { DialAttempt } from './dialer.ts'
import type { RelayLimitsInfo } from './limits.ts'
import type { PathInfo } from './path.ts'

/** Options of {@link BeamNode.connect}. */
export interface ConnectOptions {
  /** The share's port to reach; 0 = the share's first port. @default 0 */
  remotePort?: number
  /** Local address to bind. @default '127.0.0.1' */
  host?: string
  /** Local port to bind; 0 = any free port. @default 0 */
  port?: number
  /**
   * Listen on this unix socket instead of a TCP port: created with mode 0600
   * (only this user may connect), removed on close; a socket file nobody
   * listens on any more is replaced, anything else there is an error.
   * @default unset
   */
  socketPath?: string
  /**
   * A UDP tunnel: `remotePort` names a UDP service of the share, and a local
   * UDP port (`host`/`port`) is bound instead of a TCP one. Each source that
   * sends to it gets its own datagram tunnel (the share's answers go back to
   * it alone), closed after `datagramIdleTimeout` without traffic.
   * @default false
   */
  udp?: boolean
  /** A UDP source's tunnel that carries nothing either way for this long is closed, in ms. @default 60000 */
  datagramIdleTimeout?: number
  /** UDP sources served at once; datagrams of further sources are dropped. @default 256 */
  maxDatagramSessions?: number
  /**
   * Bind a local port (or `socketPath`) for clients. false: nothing is bound and
   * tunnels are carried only by {@link ConnectTunnel.pipe} (one on standard
   * input and output, say).
   * @default true
   */
  bind?: boolean
  /** How long one dial of the peer may take, in ms. @default 30000 */
  dialTimeout?: number
  /** How long the share has to answer a tunnel request, in ms. @default 10000 */
  handshakeTimeout?: number
  /** Tunnel streams at once. @default 4096 */
  maxStreams?: number
  /**
   * Tunnel handshakes in flight at once; further local connections wait
   * their turn (a share resets streams past 64 handshakes per peer).
   * @default 32
   */
  maxHandshakesInFlight?: number
  /**
   * Check reachability and access before binding the local port, so that a
   * refusal surfaces at once instead of on the first local connection.
   * @default true
   */
  probe?: boolean
  /**
   * Try to move a relayed tunnel to a direct WebRTC path (ICE through the
   * peer's relay, STUN/TURN from the node's ICE servers), retrying with backoff.
   * @default true
   */
  upgrade?: boolean
  /**
   * Ask the share to dial this node back (connection reversal) while the path
   * is relayed, when this node listens on (or announces) a public TCP or
   * QUIC address. The share's direct connection then carries the tunnels.
   * @default true
   */
  reversal?: boolean
  /**
   * How long to wait for a direct path (or a relay without limits) when the
   * only connection to the share is through a relay that limits its
   * connections, in ms. Such a relay carries signalling (the probe, WebRTC
   * SDP) but never a tunnel; after this the call (or the local client's
   * tunnel) fails with LimitedRelayOnlyError.
   * @default 30000
   */
  directPathTimeout?: number
  /**
   * Told of every `limited` event, including those during the call (before
   * the tunnel is returned and listeners can be attached). @default unset
   */
  onLimited?: ((event: LimitedRelayEvent) => void) | undefined
  /** Aborts the dial and probe during the call; no effect on the tunnel once the call has resolved (use `close()`). @default unset */
  signal?: AbortSignal
}

/** {@link ConnectEvents} `tunnel:open`: a local client was joined to the shared service. */
export interface ConnectTunnelOpenEvent {
  /** Number of the tunnel, unique within this ConnectTunnel. */
  id: number
  /** The shared port asked for (0: the share's first). */
  remotePort: number
}
/** {@link ConnectEvents} `tunnel:close`: a local client's tunnel ended. */
export interface ConnectTunnelCloseEvent {
  /** Number of the tunnel. */
  id: number
  /** Bytes from the local client to the share. */
  sent: number
  /** Bytes from the share to the local client. */
  received: number
  /**
   * Set when it ended by an error or a reset, except a reset by the local
   * client itself (see `reason`).
   */
  error?: string
  /**
   * `'client-reset'`: the local client reset its connection (RST: load tools
   * such as wrk and ab end connections so); a normal end, not an error. The
   * tunnel's stream was reset in turn, so the share's service sees the reset.
   */
  reason?: 'client-reset'
}
/** {@link ConnectTunnel.liveTunnels}: a local client joined to the share now. */
export interface ConnectLiveTunnel {
  /** Number of the tunnel. */
  id: number
  /** Bytes from the local client to the share so far. */
  sent: number
  /** Bytes from the share to the local client so far. */
  received: number
}
/** {@link ConnectEvents} `tunnel:failed`: a local client could not be joined. */
export interface ConnectTunnelFailedEvent {
  /** Number of the tunnel. */
  id: number
  /** Why: PeerUnreachableError, TunnelRefusedError, UnknownPortError, ServiceUnavailableError, ShareOverloadedError, … */
  error: Error
}
/** Progress of an attempt to replace a relayed path with a direct one. */
export interface UpgradeEvent {
  /**
   * How the direct path is sought: `webrtc` (a hole punch signalled through
   * the relay), `punch` (the same WebRTC connection, on a UDP pair punched
   * first across one symmetric NAT: the birthday method, `holePunch`), or
   * `reversal` (the share asked, over the relay, to dial this node back on
   * its public TCP/QUIC addresses). `address` is the WebRTC address tried,
   * or the relayed connection the request went over.
   */
  technique: 'webrtc' | 'punch' | 'reversal'
  /** Where the attempt stands. */
  state: 'trying' | 'succeeded' | 'failed'
  /** The address tried. */
  address: string
  /** Time the attempt took, in ms (when finished). */
  ms?: number
  /** When failed: why. */
  error?: string
  /** When failed: the next attempt, in ms from now. */
  retryInMs?: number
}

/**
 * {@link ConnectEvents} `limited`: the only connection to the share is
 * through a relay that limits its connections (data or time), which carries
 * signalling but no tunnel; new tunnels wait for a direct path.
 */
export interface LimitedRelayEvent {
  /** `waiting`: a direct path is sought through the relay; `direct`: a connection that carries tunnels came; `failed`: none came in time (or none can come). */
  state: 'waiting' | 'direct' | 'failed'
  /** The limited connection's address (`<relay>/p2p-circuit/p2p/<peer>`). */
  relay: string
  /** The relay's limits on the connection. */
  limits: RelayLimitsInfo
  /** How long the wait lasts at most, in ms. */
  timeoutMs: number
  /** Time waited, in ms (`direct` and `failed`). */
  ms?: number
  /** Why no direct path came (`failed`). */
  error?: string
}

/** {@link ConnectEvents} `redial`: a background redial of a lost share failed. */
export interface RedialEvent {
  /** Number of the redial since the peer was lost (1, 2, …). */
  attempt: number
  /** What was tried and what each answered, in one line. */
  error: string
  /** When the next redial comes, in ms from now. */
  retryInMs: number
}

/** Events of a {@link ConnectTunnel}. */
export interface ConnectEvents {
  /** The path new streams take changed (or was first found). */
  path: [PathInfo]
  /** A local client was joined to the shared service. */
  'tunnel:open': [ConnectTunnelOpenEvent]
  /** A local client's tunnel ended. */
  'tunnel:close': [ConnectTunnelCloseEvent]
  /** A local client could not be joined (peer unreachable, refused, service down); its socket was closed. */
  'tunnel:failed': [ConnectTunnelFailedEvent]
  /** The share refused this peer; every new local client will be closed too. */
  refused: [TunnelRefusedError]
  /** The peer is no longer connected; it is redialled at once, then with backoff (`redial`), and by the next local client. */
  disconnected: []
  /** A redial of the lost peer failed (what it tried and what each answered); the next one comes in `retryInMs`. */
  redial: [RedialEvent]
  /** Dialling the peer: the addresses tried and how each went. */
  dial: [{
    /** Each address tried. */
    attempts: DialAttempt[]
    /** Whether a connection was made. */
    ok: boolean
  }]
  /** An attempt to upgrade a relayed path to a direct one. */
  upgrade: [UpgradeEvent]
  /** Only a limited relay connects to the share: waiting for a direct path, and how that ended. */
  limited: [LimitedRelayEvent]
}

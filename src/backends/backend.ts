import type { Libp2pOptions } from 'libp2p'

/** What a backend can do for a share or a connector. */
export type BackendRole = 'listen' | 'dial' | 'both'

/** How a backend stands on this machine right now. */
export type BackendStatus = 'ready' | 'not-installed' | 'not-running' | 'not-implemented'

/** What {@link Backend.available} answers. */
export interface BackendAvailability {
  /** Ready, or what is missing. */
  status: BackendStatus
  /** Why, in one line, when not ready. */
  reason?: string
}

/** A libp2p transport factory, as `createLibp2p({ transports })` takes it. */
export type TransportFactory = NonNullable<Libp2pOptions['transports']>[number]

/**
 * A network beam can carry tunnels over. Direct networking is one backend;
 * anonymizing networks (Tor, I2P, …) plug in as further libp2p transports.
 * A backend object carries its own options (control ports, SAM address, …):
 * it is made by a factory such as `torBackend({ … })` and handed to
 * `createBeam({ backends: [...] })`; nothing else in beam needs to change to
 * add one.
 */
export interface Backend {
  /** Short name used on the command line (`--backend tor`). */
  name: string
  /** One-line description. */
  description: string
  /** Whether it can listen (shares), dial (connectors), or both. */
  role: BackendRole
  /** Multiaddr protocols this backend dials/listens on, e.g. ['onion3']. */
  addressProtocols: string[]
  /** Whether the sharer / the connector stay anonymous to each other and to observers. */
  anonymity: {
    /** The sharer's network address stays hidden. */
    sharer: boolean
    /** The connector's network address stays hidden. */
    connector: boolean
  }
  /** Expected added latency. */
  latency: 'lan' | 'internet' | 'high'
  /** Check, without side effects on the network, whether it can be used now. */
  available: (options?: { signal?: AbortSignal }) => Promise<BackendAvailability>
  /**
   * The libp2p transport that dials (and, for role 'listen'/'both', listens
   * on) this network. Absent for `direct` (beam's own transports) and for
   * backends that are not implemented.
   */
  transport?: () => TransportFactory
  /**
   * Listen multiaddrs a share adds when it uses this backend (the backend's
   * transport claims them through its listen filter). @default []
   */
  listenAddrs?: () => string[]
}

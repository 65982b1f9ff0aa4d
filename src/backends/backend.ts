import type { Libp2pOptions } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'

/** One log method, as pino has it: fields and a message, or a message alone. */
export interface LogFn {
  (fields: object, message?: string, ...args: unknown[]): void
  (message: string, ...args: unknown[]): void
}

/**
 * What a backend logs through: the part of pino's Logger it calls (a pino
 * logger fits as it is; so does any object with these methods). beam's own
 * components take the same, with `isLevelEnabled` (peer/logger.ts).
 */
export interface BackendLogger {
  /** The finest detail (libp2p's internals). */
  trace: LogFn
  /** Detail for debugging. */
  debug: LogFn
  /** Progress a user may want to see. */
  info: LogFn
  /** Something went wrong but beam carries on. */
  warn: LogFn
  /** Something failed. */
  error: LogFn
  /** A logger whose lines carry `bindings` too (e.g. `{ component: 'tor' }`). */
  child: (bindings: Record<string, unknown>) => BackendLogger
}

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
  /**
   * What would make it ready, for a front end to phrase with its own words
   * (the CLI names its flags): `launch`, let the backend start its own
   * daemon (e.g. TorBackendOptions.launch); `binary`, name the daemon's
   * program file. Unset when there is nothing such to suggest.
   */
  fix?: BackendFix
}

/** A remedy a backend can suggest for {@link BackendAvailability} (see `fix`). */
export type BackendFix = 'launch' | 'binary'

/** What beam hands a backend when a node starts. */
export interface BackendContext {
  /** The node's logger: user-facing progress goes here (a backend makes its own child). */
  log: BackendLogger
  /** Aborts a backend's start-up (e.g. a launched daemon's bootstrap). @default none */
  signal?: AbortSignal
}

/** What a backend says about one of its network's addresses (see {@link Backend.describeAddress}). */
export interface BackendAddress {
  /** The transport a `path` event names for a connection over it, e.g. 'tor', 'ator', 'i2p'. */
  transport: string
  /** The network's name for people, e.g. 'Tor', 'I2P'. */
  network: string
  /** What the address points at, for people, e.g. 'onion service', 'destination'. */
  kind: string
  /** The address as people write it, e.g. `<56 chars>.onion:4001`, `<52 chars>.b32.i2p`. */
  display: string
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
  /**
   * Multiaddr protocols this backend dials/listens on, e.g. ['onion3']: an
   * address it carries starts with one of them (see backendCarries).
   */
  addressProtocols: string[]
  /**
   * Describe `ma` when it is an address of this backend's network (anywhere
   * in it: a path's remote address may carry more parts), else undefined.
   * Path events take the transport name from it, the CLI the display form.
   * @default unset (no address is this backend's to describe)
   */
  describeAddress?: (ma: Multiaddr) => BackendAddress | undefined
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
  transport?: (context: BackendContext) => TransportFactory
  /**
   * Listen multiaddrs a share adds when it uses this backend (the backend's
   * transport claims them through its listen filter). @default []
   */
  listenAddrs?: () => string[]
  /**
   * Called before the node's libp2p starts (e.g. to launch a daemon); a
   * rejection aborts the node's start. @default unset
   */
  start?: (context: BackendContext) => Promise<void>
  /** Called after the node's libp2p has stopped. @default unset */
  stop?: () => Promise<void>
}

/** A backend was asked for that cannot be used here (not implemented, daemon missing, …). */
export class BackendUnavailableError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'BackendUnavailableError'
  }
}

import { describeLimits } from './connect/limits.ts'
import type { RelayLimitsInfo } from './connect/limits.ts'

/** The identity key file cannot be read, parsed or written. */
export class IdentityError extends Error {
  /** The identity file. */
  readonly path: string
  /** Which file it is: the identity key, or a share's access secret. @default 'identity' */
  kind: 'identity' | 'access-secret' = 'identity'
  constructor (message: string, path: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'IdentityError'
    this.path = path
  }
}

/** A target is neither a peer id nor a connect string. */
export class InvalidTargetError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'InvalidTargetError'
  }
}

/** A multiaddr given as an option does not parse or is not usable there. */
export class InvalidMultiaddrError extends Error {
  constructor (message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'InvalidMultiaddrError'
  }
}

/** bootstrap-nodes.json (or its replacement) is unreadable or invalid. */
export class BootstrapConfigError extends Error {
  constructor (message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'BootstrapConfigError'
  }
}

/** No address of the peer is known, so it cannot be dialled. */
export class PeerNotFoundError extends Error {
  /** The peer (or the name) that was not found. */
  readonly peerId: string
  /** Whether the lookup failed for want of bootstrap nodes (none configured). */
  readonly noBootstrap: boolean
  constructor (peerId: string, message?: string, options: { noBootstrap?: boolean } = {}) {
    super(message ?? `no address known for peer ${peerId}: use the connect string that 'beam share' printed`)
    this.name = 'PeerNotFoundError'
    this.peerId = peerId
    this.noBootstrap = options.noBootstrap ?? false
  }
}

/** Every address of the peer failed or timed out. */
export class PeerUnreachableError extends Error {
  /** The peer that could not be reached. */
  readonly peerId: string
  constructor (peerId: string, detail: string, cause?: unknown) {
    super(`cannot reach peer ${peerId}: ${detail}`, { cause })
    this.name = 'PeerUnreachableError'
    this.peerId = peerId
  }
}

/**
 * The peer was reached, but only through a relay that limits its connections
 * (data or time, as the library defaults of public libp2p relays do: 128 KiB,
 * 2 min). Such a connection carries signalling, never tunnel bytes, and no
 * direct path (or relay without limits) came in time.
 */
export class LimitedRelayOnlyError extends PeerUnreachableError {
  /** The limited connection's address (`<relay>/p2p-circuit/p2p/<peer>`). */
  readonly relay: string
  /** What the relay allows on the connection. */
  readonly limits: RelayLimitsInfo
  /** How long a direct path was waited for, in ms. */
  readonly waitedMs: number
  /** Whether this node tries no WebRTC at all (then only connection reversal could have made a direct path). */
  readonly webrtcOff: boolean
  /**
   * `init.tried`: whether any attempt at a direct path was made (WebRTC or
   * connection reversal; unset: unless `webrtcOff`); when not, `why` says
   * why none could be.
   */
  constructor (peerId: string, init: { relay: string, limits: RelayLimitsInfo, waitedMs: number, why: string, webrtcOff?: boolean, tried?: boolean }) {
    const tried = init.tried ?? init.webrtcOff !== true
    const after = tried ? `no direct path came within ${Math.round(init.waitedMs / 100) / 10} s (${init.why})` : init.why
    super(peerId, `its only connection is through a relay that limits connections (${describeLimits(init.limits)}), which carries signalling but no tunnel; ${after}`)
    this.name = 'LimitedRelayOnlyError'
    this.relay = init.relay
    this.limits = init.limits
    this.waitedMs = init.waitedMs
    this.webrtcOff = init.webrtcOff ?? false
  }
}

/** The share refused this peer (no or wrong secret, not on the allow-list). */
export class TunnelRefusedError extends Error {
  constructor (reason: string) {
    super(`the share refused the tunnel: ${reason}`)
    this.name = 'TunnelRefusedError'
  }
}

/** The requested port is not one the share offers. */
export class UnknownPortError extends Error {
  constructor (reason: string) {
    super(reason)
    this.name = 'UnknownPortError'
  }
}

/**
 * The share is up but its local service did not accept the connection. The
 * share says no more than that: where the service runs (host and port) stays
 * in the share's own log and `service:unavailable` event.
 */
export class ServiceUnavailableError extends Error {
  constructor (reason: string) {
    super(`the shared service is unavailable: ${reason}`)
    this.name = 'ServiceUnavailableError'
  }
}

/** The share holds as many tunnels as it allows (for this peer, or in total) and opened no new one; try again later. */
export class ShareOverloadedError extends Error {
  constructor (reason: string) {
    super(`the share is overloaded: ${reason}`)
    this.name = 'ShareOverloadedError'
  }
}

/** The share answered with something this beam cannot use. */
export class TunnelProtocolError extends Error {
  constructor (message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'TunnelProtocolError'
  }
}

/** A share is already running on this node. */
export class AlreadySharingError extends Error {
  constructor () {
    super('this node already shares: one share per node (it may offer several ports)')
    this.name = 'AlreadySharingError'
  }
}

/** An option has a value outside its documented range. */
export class InvalidOptionError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'InvalidOptionError'
  }
}

/** The node was used after stop(). */
export class NodeStoppedError extends Error {
  constructor () {
    super('the beam node is stopped')
    this.name = 'NodeStoppedError'
  }
}

/** A network call on a node created with `start: false` before `node.start()`. */
export class NodeNotStartedError extends Error {
  constructor () {
    super('the beam node is not started yet: call node.start() first')
    this.name = 'NodeNotStartedError'
  }
}

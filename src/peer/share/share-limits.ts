import {
  DEFAULT_MAX_HANDSHAKE_FAILURES, DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER,
  DEFAULT_MAX_TUNNELS, DEFAULT_MAX_TUNNELS_PER_PEER
} from '../constants.ts'
import { InvalidOptionError } from '../errors.ts'

/** What a share holds for its peers at once, and when it gives up on a connection. */
export interface ShareLimitOptions {
  /**
   * Streams of one peer (over all its connections) that are open but have not
   * sent their request yet. Past it the share resets new streams of that peer
   * at once. @default 64
   */
  maxPendingHandshakesPerPeer?: number
  /** The same, over all peers. @default 512 */
  maxPendingHandshakes?: number
  /** Tunnels (and benchmark streams) of one peer open at once; past it the share answers OVERLOADED. @default 2048 */
  maxTunnelsPerPeer?: number
  /** Tunnels (and benchmark streams) open at once over all peers; past it the share answers OVERLOADED. @default 8192 */
  maxTunnels?: number
  /**
   * Handshakes on one connection that a correct connector with the right
   * access never produces (refused by the access policy, no request within
   * the handshake timeout, an undecodable request) before the share closes
   * that connection. @default 3
   */
  maxHandshakeFailures?: number
}

/** Why a tunnel slot was not granted: which cap was reached. */
export interface TunnelSlotRefusal {
  /** The per-peer cap or the share's total. */
  scope: 'peer' | 'total'
  /** The cap that was reached. */
  limit: number
}

function positiveInt (name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 1) throw new InvalidOptionError(`${name} must be a whole number of at least 1 (got ${v})`)
  return v
}

/** Add `delta` to `key`'s count; drops the key at zero. */
function bump (counts: Map<string, number>, key: string, delta: number): void {
  const n = (counts.get(key) ?? 0) + delta
  if (n <= 0) counts.delete(key)
  else counts.set(key, n)
}

/**
 * The counters behind a share's caps: handshakes in progress and open
 * tunnels, per peer and in total, and failed handshakes per connection.
 * Pure bookkeeping: the share decides what to do with the answers.
 */
export class ShareLimits {
  readonly maxPendingHandshakesPerPeer: number
  readonly maxPendingHandshakes: number
  readonly maxTunnelsPerPeer: number
  readonly maxTunnels: number
  readonly maxHandshakeFailures: number
  private readonly pendingByPeer = new Map<string, number>()
  private readonly tunnelsByPeer = new Map<string, number>()
  private readonly failures = new WeakMap<object, number>()
  private pendingTotal = 0
  private tunnelTotal = 0

  constructor (options: ShareLimitOptions = {}) {
    this.maxPendingHandshakesPerPeer = positiveInt('maxPendingHandshakesPerPeer', options.maxPendingHandshakesPerPeer, DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER)
    this.maxPendingHandshakes = positiveInt('maxPendingHandshakes', options.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES)
    this.maxTunnelsPerPeer = positiveInt('maxTunnelsPerPeer', options.maxTunnelsPerPeer, DEFAULT_MAX_TUNNELS_PER_PEER)
    this.maxTunnels = positiveInt('maxTunnels', options.maxTunnels, DEFAULT_MAX_TUNNELS)
    this.maxHandshakeFailures = positiveInt('maxHandshakeFailures', options.maxHandshakeFailures, DEFAULT_MAX_HANDSHAKE_FAILURES)
  }

  /** Handshakes in progress now, over all peers. */
  get pendingHandshakes (): number { return this.pendingTotal }
  /** Tunnel slots held now, over all peers. */
  get tunnels (): number { return this.tunnelTotal }

  /** Take a handshake slot for `peer`; false (nothing taken) when the peer or the share is at its cap. */
  beginHandshake (peer: string): boolean {
    if (this.pendingTotal >= this.maxPendingHandshakes) return false
    if ((this.pendingByPeer.get(peer) ?? 0) >= this.maxPendingHandshakesPerPeer) return false
    bump(this.pendingByPeer, peer, 1)
    this.pendingTotal++
    return true
  }

  /** Give back a slot taken by {@link beginHandshake}. */
  endHandshake (peer: string): void {
    if (!this.pendingByPeer.has(peer)) return
    bump(this.pendingByPeer, peer, -1)
    this.pendingTotal--
  }

  /** Whether `peer` could open a tunnel now: undefined, or the cap in the way. Takes nothing. */
  checkTunnel (peer: string): TunnelSlotRefusal | undefined {
    if ((this.tunnelsByPeer.get(peer) ?? 0) >= this.maxTunnelsPerPeer) return { scope: 'peer', limit: this.maxTunnelsPerPeer }
    if (this.tunnelTotal >= this.maxTunnels) return { scope: 'total', limit: this.maxTunnels }
    return undefined
  }

  /** Take a tunnel slot for `peer`: undefined when taken, else the cap in the way (nothing taken). */
  openTunnel (peer: string): TunnelSlotRefusal | undefined {
    const refusal = this.checkTunnel(peer)
    if (refusal != null) return refusal
    bump(this.tunnelsByPeer, peer, 1)
    this.tunnelTotal++
    return undefined
  }

  /** Give back a slot taken by {@link openTunnel}. */
  closeTunnel (peer: string): void {
    if (!this.tunnelsByPeer.has(peer)) return
    bump(this.tunnelsByPeer, peer, -1)
    this.tunnelTotal--
  }

  /**
   * Count a failed handshake on `connection` (any object that stands for
   * it; forgotten with it). True once it has reached maxHandshakeFailures:
   * the share should close it.
   */
  handshakeFailed (connection: object): boolean {
    const n = (this.failures.get(connection) ?? 0) + 1
    this.failures.set(connection, n)
    return n >= this.maxHandshakeFailures
  }
}

/** The reason text an OVERLOADED answer carries. */
export function overloadReason (refusal: TunnelSlotRefusal): string {
  return refusal.scope === 'peer'
    ? `too many tunnels from this peer (at most ${refusal.limit} at once); try again when some have closed`
    : `the share has too many tunnels open (at most ${refusal.limit} at once); try again later`
}

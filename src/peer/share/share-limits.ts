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

/** Slots held per peer and in total (a peer with none is not kept). */
class PerPeerCounts {
  private readonly byPeer = new Map<string, number>()
  /** Slots held over all peers. */
  total = 0

  /** Slots `peer` holds. */
  of (peer: string): number { return this.byPeer.get(peer) ?? 0 }

  /** `peer` takes one. */
  take (peer: string): void {
    this.byPeer.set(peer, this.of(peer) + 1)
    this.total++
  }

  /** `peer` gives one back (nothing when it holds none). */
  give (peer: string): void {
    const n = this.byPeer.get(peer)
    if (n == null) return
    if (n <= 1) this.byPeer.delete(peer)
    else this.byPeer.set(peer, n - 1)
    this.total--
  }
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
  private readonly pending = new PerPeerCounts()
  private readonly open = new PerPeerCounts()
  private readonly failures = new WeakMap<object, number>()

  constructor (options: ShareLimitOptions = {}) {
    this.maxPendingHandshakesPerPeer = positiveInt('maxPendingHandshakesPerPeer', options.maxPendingHandshakesPerPeer, DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER)
    this.maxPendingHandshakes = positiveInt('maxPendingHandshakes', options.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES)
    this.maxTunnelsPerPeer = positiveInt('maxTunnelsPerPeer', options.maxTunnelsPerPeer, DEFAULT_MAX_TUNNELS_PER_PEER)
    this.maxTunnels = positiveInt('maxTunnels', options.maxTunnels, DEFAULT_MAX_TUNNELS)
    this.maxHandshakeFailures = positiveInt('maxHandshakeFailures', options.maxHandshakeFailures, DEFAULT_MAX_HANDSHAKE_FAILURES)
  }

  /** Handshakes in progress now, over all peers. */
  get pendingHandshakes (): number { return this.pending.total }
  /** Tunnel slots held now, over all peers. */
  get tunnels (): number { return this.open.total }

  /** Take a handshake slot for `peer`; false (nothing taken) when the peer or the share is at its cap. */
  beginHandshake (peer: string): boolean {
    if (this.pending.total >= this.maxPendingHandshakes) return false
    if (this.pending.of(peer) >= this.maxPendingHandshakesPerPeer) return false
    this.pending.take(peer)
    return true
  }

  /** Give back a slot taken by {@link beginHandshake}. */
  endHandshake (peer: string): void {
    this.pending.give(peer)
  }

  /** Whether `peer` could open a tunnel now: undefined, or the cap in the way. Takes nothing. */
  checkTunnel (peer: string): TunnelSlotRefusal | undefined {
    if (this.open.of(peer) >= this.maxTunnelsPerPeer) return { scope: 'peer', limit: this.maxTunnelsPerPeer }
    if (this.open.total >= this.maxTunnels) return { scope: 'total', limit: this.maxTunnels }
    return undefined
  }

  /** Take a tunnel slot for `peer`: undefined when taken, else the cap in the way (nothing taken). */
  openTunnel (peer: string): TunnelSlotRefusal | undefined {
    const refusal = this.checkTunnel(peer)
    if (refusal != null) return refusal
    this.open.take(peer)
    return undefined
  }

  /** Give back a slot taken by {@link openTunnel}. */
  closeTunnel (peer: string): void {
    this.open.give(peer)
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

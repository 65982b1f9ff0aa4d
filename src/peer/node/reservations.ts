import { multiaddr } from '@multiformats/multiaddr'
import { HOP_PROTOCOL } from '../../relay/index.ts'
import { relayedAddrs } from './addresses.ts'
import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'

/**
 * The bootstrap nodes and the relay reservations a node gets from them: the
 * background dials at start, which of them failed or run no relay, and the
 * wait for a first reservation (which gives up early once no bootstrap node
 * can offer one).
 */

/** Bound of one bootstrap dial at start, in ms. */
export const BOOTSTRAP_DIAL_TIMEOUT = 15_000
/** How long {@link Reservations.waitForReservation} waits by default, in ms. */
export const DEFAULT_RESERVATION_WAIT = 10_000

/**
 * The protocols a peer runs, once identify has answered; undefined before.
 * The peer store's protocol list alone proves nothing: libp2p adds to it each
 * protocol that one of this node's own streams negotiated (ping, kad), so it
 * is non-empty before identify has run. Identify stores the agent version
 * after the protocols.
 */
export async function identifiedProtocols (libp2p: Pick<Libp2p, 'peerStore'>, peer: PeerId): Promise<string[] | undefined> {
  const record = await libp2p.peerStore.get(peer).catch(() => undefined)
  return record?.metadata.has('AgentVersion') === true ? record.protocols : undefined
}

/** What {@link Reservations} reports to its owner. */
export interface ReservationEvents {
  /** A bootstrap node could not be reached. */
  bootstrapFailed: (e: { multiaddr: string, error: Error }) => void
  /** Every bootstrap node is reachable-or-failed and none runs a relay. */
  noRelay: () => void
}

/** Components of {@link Reservations}. */
export interface ReservationsInit {
  /** The node's libp2p. */
  libp2p: Libp2p
  /** The bootstrap/relay nodes the node was given. */
  bootstrap: Multiaddr[]
  /** The node's dialable addresses now (its relayed ones are its reservations). */
  addresses: () => Multiaddr[]
  /** Where to log. */
  log: Logger
  /** Told of failed bootstrap dials and of bootstrap nodes without a relay. */
  events: ReservationEvents
  /**
   * True while relays may still come from elsewhere than the bootstrap nodes
   * (the relay finder's first DHT search is running): the wait for a
   * reservation does not give up on the bootstrap nodes alone. @default none
   */
  searching?: () => boolean
}

/** The part of libp2p's internal components used by {@link listenThroughRelay}. */
interface WithTransportManager {
  components?: { transportManager?: { listen: (addrs: Multiaddr[]) => Promise<void> } }
}

/**
 * Take a reservation on a relay this node is connected to and listen through
 * it, as a `/p2p/<relay>/p2p-circuit` listen address makes circuit-relay-v2
 * do (a "configured" relay: kept and renewed by the transport's reservation
 * store until the connection closes). Read through libp2p's components: the
 * public Libp2p type has no way to add a listen address to a running node
 * (libp2p 3.3.11). Rejects if the relay refuses.
 */
export async function listenThroughRelay (libp2p: Libp2p, relay: PeerId, signal: AbortSignal): Promise<void> {
  const tm = (libp2p as unknown as WithTransportManager).components?.transportManager
  if (tm == null) throw new Error('this libp2p node has no transport manager to listen with')
  signal.throwIfAborted()
  const listening = tm.listen([multiaddr(`/p2p/${relay.toString()}/p2p-circuit`)])
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    listening.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}

/** Bootstrap dials and relay reservations of one node. */
export class Reservations {
  private readonly libp2p: Libp2p
  private readonly bootstrap: Multiaddr[]
  private readonly addresses: () => Multiaddr[]
  private readonly log: Logger
  private readonly events: ReservationEvents
  private readonly searching: () => boolean
  private failures = 0
  /**
   * True once every bootstrap node has failed or turned out (after identify)
   * to run no relay: then no reservation can come from them.
   */
  private noRelays = false
  /** Wake-ups of the running {@link waitForReservation} calls, called on each failed bootstrap dial. */
  private readonly waiters = new Set<() => void>()

  constructor (init: ReservationsInit) {
    this.libp2p = init.libp2p
    this.bootstrap = init.bootstrap
    this.addresses = init.addresses
    this.log = init.log
    this.events = init.events
    this.searching = init.searching ?? (() => false)
  }

  /** Wake the running {@link waitForReservation} calls to look again (e.g. a relay search ended). */
  wake (): void {
    for (const wake of [...this.waiters]) wake()
  }

  /** The bootstrap/relay nodes (a copy). */
  get bootstrapAddrs (): Multiaddr[] { return [...this.bootstrap] }

  /** True once it is known that no bootstrap node runs a relay (and not all of them failed). */
  get bootstrapRunsNoRelay (): boolean { return this.noRelays && this.failures < this.bootstrap.length }

  /** Dial the bootstrap nodes in the background; failures are reported as events. */
  connectBootstrap (): void {
    for (const ma of this.bootstrap) {
      this.libp2p.dial(ma, { signal: AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT) }).then(() => {
        this.log.debug({ bootstrap: ma.toString() }, 'connected to bootstrap node')
      }, (error: Error) => {
        this.failures++
        this.log.warn({ bootstrap: ma.toString(), err: error.message }, 'bootstrap node unreachable')
        this.events.bootstrapFailed({ multiaddr: ma.toString(), error })
        for (const wake of [...this.waiters]) wake()
      })
    }
  }

  /** Relayed addresses the node holds (reservations), if any. */
  relayedMultiaddrs (): Multiaddr[] {
    return relayedAddrs(this.addresses())
  }

  /**
   * Wait until at least one relay reservation is in place, or `timeout` ms
   * have passed. Resolves the relayed addresses (empty on timeout).
   */
  async waitForReservation (options: { timeout?: number, signal?: AbortSignal } = {}): Promise<Multiaddr[]> {
    const deadline = AbortSignal.any([AbortSignal.timeout(options.timeout ?? DEFAULT_RESERVATION_WAIT), ...(options.signal != null ? [options.signal] : [])])
    // no point waiting once every bootstrap node has proven unreachable
    // (with every bootstrap node failed the DHT has no peer either: no relay can come from it)
    const hopeless = (): boolean => this.bootstrap.length > 0 && (this.failures >= this.bootstrap.length || (this.noRelays && !this.searching()))
    while (this.relayedMultiaddrs().length === 0 && !deadline.aborted && !hopeless()) {
      await this.checkBootstrapRelays()
      if (hopeless()) break
      await new Promise<void>(resolve => {
        const done = (): void => {
          this.libp2p.removeEventListener('self:peer:update', done)
          this.libp2p.removeEventListener('peer:identify', done)
          this.waiters.delete(done)
          deadline.removeEventListener('abort', done)
          resolve()
        }
        this.libp2p.addEventListener('self:peer:update', done)
        this.libp2p.addEventListener('peer:identify', done)
        this.waiters.add(done)
        deadline.addEventListener('abort', done)
      })
    }
    return this.relayedMultiaddrs()
  }

  /** Sets {@link noRelays} (and reports it) once every bootstrap node failed or runs no relay. */
  private async checkBootstrapRelays (): Promise<void> {
    if (this.noRelays) return
    const ids = this.bootstrap.map(ma => ma.getComponents().findLast(c => c.name === 'p2p')?.value).filter((x): x is string => x != null)
    if (ids.length < this.bootstrap.length) return
    let settled = 0
    for (const id of ids) {
      const conns = this.libp2p.getConnections().filter(c => c.remotePeer.toString() === id)
      if (conns.length === 0) continue
      const protocols = await identifiedProtocols(this.libp2p, conns[0]?.remotePeer ?? this.libp2p.peerId)
      if (protocols == null) return
      if (protocols.includes(HOP_PROTOCOL)) return
      settled++
    }
    if (settled + this.failures >= this.bootstrap.length) {
      this.noRelays = true
      this.events.noRelay()
    }
  }
}

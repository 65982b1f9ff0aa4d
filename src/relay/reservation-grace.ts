import type { ReservationMap } from './address-caps.ts'
import type { Connection, PeerId } from '@libp2p/interface'

/** The libp2p node events and connections {@link ReservationGrace} reads. */
export interface PeerPresence {
  addEventListener: (type: 'peer:connect' | 'peer:disconnect', listener: (evt: CustomEvent<PeerId>) => void) => void
  removeEventListener: (type: 'peer:connect' | 'peer:disconnect', listener: (evt: CustomEvent<PeerId>) => void) => void
  getConnections: (peer?: PeerId) => Connection[]
}

export interface ReservationGraceInit {
  /** How long a reservation outlives its holder's last connection, in ms (0 = not at all). */
  graceMs: number
  /** Called for every reservation dropped. */
  onDrop?: (peer: PeerId) => void
}

/**
 * Ends a relay reservation when its holder has had no connection to the relay
 * for `graceMs`. circuit-relay-v2 keeps a reservation for its whole TTL (an
 * hour on a beam relay) whether or not the holder is still there; nobody can
 * be reached through a reservation whose holder is gone, yet it holds a slot
 * (and counts against its address's caps). A holder that comes back within the
 * grace (a NAT rebinding, a restart, libp2p's reconnect queue) finds its
 * reservation still there, even on a full relay, and renews it.
 *
 * A reservation is dropped by retiming its signal to fire now: that is how the
 * library itself ends one at expiry (it deletes the entry, and the timers
 * of the old reservation cannot later delete a new one of the same peer).
 */
export class ReservationGrace {
  private readonly init: ReservationGraceInit
  private readonly reservations: ReservationMap
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private host: PeerPresence | undefined

  constructor (init: ReservationGraceInit, reservations: ReservationMap) {
    this.init = init
    this.reservations = reservations
  }

  /** Reservations whose holder is away now (grace running). */
  get waiting (): number { return this.timers.size }

  start (host: PeerPresence): void {
    this.host = host
    host.addEventListener('peer:disconnect', this.onGone)
    host.addEventListener('peer:connect', this.onBack)
  }

  stop (): void {
    this.host?.removeEventListener('peer:disconnect', this.onGone)
    this.host?.removeEventListener('peer:connect', this.onBack)
    this.host = undefined
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  private readonly onGone = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail
    if (!this.reservations.has(peer)) return
    const id = peer.toString()
    clearTimeout(this.timers.get(id))
    const timer = setTimeout(() => { this.expire(peer) }, this.init.graceMs)
    timer.unref()
    this.timers.set(id, timer)
  }

  private readonly onBack = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    clearTimeout(this.timers.get(id))
    this.timers.delete(id)
  }

  private expire (peer: PeerId): void {
    this.timers.delete(peer.toString())
    if ((this.host?.getConnections(peer).length ?? 0) > 0) return
    const reservation = this.reservations.get(peer)
    if (reservation == null) return
    this.reservations.delete(peer)
    reservation.signal.reset(0)
    this.init.onDrop?.(peer)
  }
}

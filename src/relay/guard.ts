import { AddressCaps } from './address-caps.ts'
import type { ReservationMap } from './address-caps.ts'
import { RelayAccounting, bump } from './accounting.ts'
import { PeerCaps } from './peer-caps.ts'
import { ReservationGrace } from './reservation-grace.ts'
import type { PeerPresence } from './reservation-grace.ts'
import type { ResolvedRelayLimits } from './server.ts'
import type { HandlerHost } from './wrap-handler.ts'
import { fixReservationRenewal, isRenewableStore } from './reservation-renewal.ts'
import { hasRelayComponents, preferNewestDestination } from './destination-connection.ts'

/** What {@link RelayGuard.install} needs of a started libp2p node. */
export interface RelayGuardHost extends HandlerHost, PeerPresence {}

/** The circuit-relay-v2 server service, as the guard reads it. */
export interface RelayService {
  reservations: ReservationMap
  /** The library's reservation store, whose renewals beam fixes (reservation-renewal.ts). */
  reservationStore?: unknown
}

/**
 * Everything beam adds to circuit-relay-v2's server so that one client cannot
 * take a relay from everyone else: per-address caps (AddressCaps), the
 * per-peer cap (PeerCaps), the reservation grace drop (ReservationGrace),
 * renewals that really move a reservation's expiry (reservation-renewal.ts),
 * circuits over the destination's newest connection (destination-connection.ts), and
 * the accounting behind the metrics (RelayAccounting), wired in that order
 * around the relay's HOP handler: accounting outermost, so it sees every
 * answer, the caps' refusals included.
 */
export class RelayGuard {
  readonly accounting = new RelayAccounting()
  private readonly limits: ResolvedRelayLimits
  private grace: ReservationGrace | undefined

  constructor (limits: ResolvedRelayLimits) {
    this.limits = limits
  }

  /** Install on a started node running the relay `service`. False (nothing installed) if its HOP handler is not registered. */
  async install (host: RelayGuardHost, service: RelayService): Promise<boolean> {
    const l = this.limits
    const counters = this.accounting.counters
    const addressCaps = new AddressCaps({
      maxReservationsPerIp: l.maxReservationsPerIp,
      maxReservationsPerSubnet: l.maxReservationsPerSubnet,
      maxCircuitsPerIp: l.maxCircuitsPerIp,
      maxCircuitsPerSubnet: l.maxCircuitsPerSubnet,
      onRefuse: cap => { bump(counters.capRefusals, cap) }
    }, service.reservations)
    if (!await addressCaps.install(host)) return false
    // renewed reservations expire one TTL after their last renewal, not after their first
    if (isRenewableStore(service.reservationStore)) fixReservationRenewal(service.reservationStore)
    // circuits go over the destination's newest connection, not one from an address it left
    if (hasRelayComponents(service)) preferNewestDestination(service)
    await new PeerCaps(l.maxCircuitsPerPeer, () => { bump(counters.capRefusals, 'circuits_per_peer') }).install(host)
    await this.accounting.install(host)
    this.grace = new ReservationGrace({ graceMs: l.reservationGraceMs, onDrop: () => { counters.reservationsDropped++ } }, service.reservations)
    this.grace.start(host)
    return true
  }

  /** Stop the grace timers (the node is stopping). */
  stop (): void {
    this.grace?.stop()
  }
}

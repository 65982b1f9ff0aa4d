import { addressGroup } from './address-groups.ts'
import type { AddressGroup } from './address-groups.ts'
import { HOP_PROTOCOL } from './constants.ts'
import { HOP_TYPE, refuseHop, refuseMalformed } from './hop-message.ts'
import { HopPeekError, peekHopRequest } from './hop-peek.ts'
import { wrapHandler } from './wrap-handler.ts'
import type { HandlerHost } from './wrap-handler.ts'
import type { Connection, PeerId, Stream, StreamHandler } from '@libp2p/interface'

/** A cap of {@link AddressCaps}, as refusal metrics name it. */
export type AddressCapName = 'reservations_per_ip' | 'reservations_per_subnet' | 'circuits_per_ip' | 'circuits_per_subnet'

/** The reservations a circuit-relay-v2 server holds (its `reservations` map), as beam's caps read them. */
export interface ReservationMap {
  has: (peer: PeerId) => boolean
  get: (peer: PeerId) => { signal: { reset: (ms?: number) => void } } | undefined
  delete: (peer: PeerId) => void
}

export interface AddressCapsInit {
  /** Reservations held through connections from one IP address; 0 = no cap. */
  maxReservationsPerIp: number
  /** Reservations held through connections from one IPv4 /24 or IPv6 /48; 0 = no cap. */
  maxReservationsPerSubnet: number
  /** Relayed connections opened by connections from one IP address at once; 0 = no cap. */
  maxCircuitsPerIp: number
  /** Relayed connections opened from one IPv4 /24 or IPv6 /48 at once; 0 = no cap. */
  maxCircuitsPerSubnet: number
  /** How long a HOP request may take to arrive once its stream is open, in ms. @default 10000 */
  requestTimeoutMs?: number
  /** Called for every request a cap refuses. */
  onRefuse?: (cap: AddressCapName) => void
}

const DEFAULT_REQUEST_TIMEOUT = 10_000

interface Holder { peer: PeerId, group: AddressGroup }

function add (counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by
  if (n <= 0) counts.delete(key)
  else counts.set(key, n)
}

/**
 * Per-address caps on a relay. Peer ids cost nothing to make, so caps by peer
 * id alone let one machine take every slot with throwaway ids; these count by
 * where the asking connection comes from (its remote IP, and the IPv4 /24 or
 * IPv6 /48 around it, see address-groups.ts):
 *
 * - reservations: a RESERVE is refused while the connections that asked for
 *   the reservations held now (and those being granted) from the same IP or
 *   network reach the cap. A peer's own reservation never counts against its
 *   renewal.
 * - relayed connections: a CONNECT is refused while as many relayed
 *   connections opened from the same IP or network are open.
 *
 * Refusals are RESOURCE_LIMIT_EXCEEDED, as for the library's own limits. The
 * request type is read before the library sees it ({@link peekHopRequest}).
 */
export class AddressCaps {
  private readonly init: AddressCapsInit
  private readonly reservations: ReservationMap
  /** Peers whose reservation was granted here, by peer id, with the group of the connection that asked last. */
  private readonly holders = new Map<string, Holder>()
  /** Reservation requests the library is answering now. */
  private readonly pending = new Set<{ id: string, group: AddressGroup }>()
  private readonly circuitsByIp = new Map<string, number>()
  private readonly circuitsBySubnet = new Map<string, number>()

  constructor (init: AddressCapsInit, reservations: ReservationMap) {
    this.init = init
    this.reservations = reservations
  }

  /** Relayed connections open now that were opened from this group's IP / network. */
  circuitsFrom (group: AddressGroup): { ip: number, subnet: number } {
    return { ip: this.circuitsByIp.get(group.ip) ?? 0, subnet: this.circuitsBySubnet.get(group.subnet) ?? 0 }
  }

  /** Wrap the relay's HOP handler (before the per-peer caps and accounting). False if there is none. */
  async install (libp2p: HandlerHost): Promise<boolean> {
    return await wrapHandler(libp2p, HOP_PROTOCOL, async (stream, connection, handler) => {
      let type: number | undefined
      try {
        type = (await peekHopRequest(stream, { signal: AbortSignal.timeout(this.init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT) })).type
      } catch (err) {
        if (err instanceof HopPeekError && err.malformed) await refuseMalformed(stream)
        else stream.abort(err as Error)
        return
      }
      const group = addressGroup(connection.remoteAddr)
      if (type === HOP_TYPE.RESERVE) await this.reserve(stream, connection, handler, group)
      else if (type === HOP_TYPE.CONNECT) await this.connect(stream, connection, handler, group)
      else await handler(stream, connection)
    })
  }

  private async refuse (stream: Stream, cap: AddressCapName): Promise<void> {
    this.init.onRefuse?.(cap)
    await refuseHop(stream, `relay cap ${cap}`)
  }

  /** The cap a new reservation from `group` by peer `id` would pass, if any. */
  private reservationCap (id: string, group: AddressGroup): AddressCapName | undefined {
    const { maxReservationsPerIp: perIp, maxReservationsPerSubnet: perSubnet } = this.init
    if (perIp === 0 && perSubnet === 0) return undefined
    let ip = 0
    let subnet = 0
    const count = (g: AddressGroup): void => {
      if (g.ip === group.ip) ip++
      if (g.subnet === group.subnet) subnet++
    }
    for (const [other, h] of this.holders) {
      // the library ends reservations by itself (expiry): forget those
      if (!this.reservations.has(h.peer)) { this.holders.delete(other); continue }
      if (other !== id) count(h.group)
    }
    for (const p of this.pending) if (p.id !== id) count(p.group)
    if (perIp > 0 && ip >= perIp) return 'reservations_per_ip'
    if (perSubnet > 0 && subnet >= perSubnet) return 'reservations_per_subnet'
    return undefined
  }

  private async reserve (stream: Stream, connection: Connection, handler: StreamHandler, group: AddressGroup): Promise<void> {
    const peer = connection.remotePeer
    const id = peer.toString()
    const cap = this.reservationCap(id, group)
    if (cap != null) { await this.refuse(stream, cap); return }
    const pending = { id, group }
    this.pending.add(pending)
    try {
      await handler(stream, connection)
    } finally {
      this.pending.delete(pending)
      if (this.reservations.has(peer)) this.holders.set(id, { peer, group })
      else this.holders.delete(id)
    }
  }

  private async connect (stream: Stream, connection: Connection, handler: StreamHandler, group: AddressGroup): Promise<void> {
    const { maxCircuitsPerIp: perIp, maxCircuitsPerSubnet: perSubnet } = this.init
    const now = this.circuitsFrom(group)
    if (perIp > 0 && now.ip >= perIp) { await this.refuse(stream, 'circuits_per_ip'); return }
    if (perSubnet > 0 && now.subnet >= perSubnet) { await this.refuse(stream, 'circuits_per_subnet'); return }
    add(this.circuitsByIp, group.ip, 1)
    add(this.circuitsBySubnet, group.subnet, 1)
    stream.addEventListener('close', () => {
      add(this.circuitsByIp, group.ip, -1)
      add(this.circuitsBySubnet, group.subnet, -1)
    }, { once: true })
    await handler(stream, connection)
  }
}

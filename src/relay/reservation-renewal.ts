import { setMaxListeners } from 'node:events'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ReservationExpiredError } from './errors.ts'

/**
 * Renewed reservations that expire when they should.
 *
 * circuit-relay-v2 4.2.13 ends a reservation with a `retimeable-signal` 1.0.1
 * signal, reset on every renewal. That package's `reset()` attaches its abort
 * listener as a new closure each time but removes only the first one, so the
 * timer armed by the first renewal can no longer be cancelled: a reservation
 * renewed twice still expires one TTL after its first renewal, and every
 * relayed connection through it is cut then (they are bound to the same
 * signal). A tunnel through a beam relay (TTL 1 h, renewed before expiry) died
 * after about two hours.
 *
 * beam gives each new reservation a signal of its own whose reset really
 * replaces the timer. Retire this when retimeable-signal removes the same
 * listener it adds in `reset()` (any version after 1.0.1), or when
 * circuit-relay-v2 stops using it.
 */

/** An AbortSignal whose timer can be moved (`reset`) or stopped (`clear`). */
export interface RenewableSignal extends AbortSignal {
  /** Fire `ms` from now instead (default: the first timeout). */
  reset: (ms?: number) => void
  /** Never fire. */
  clear: () => void
}

/** A signal that aborts `ms` from now unless reset or cleared; its timer keeps no process alive. */
export function renewableSignal (ms: number): RenewableSignal {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const arm = (after: number): void => {
    clearTimeout(timer)
    timer = setTimeout(() => { controller.abort(new ReservationExpiredError()) }, after)
    timer.unref()
  }
  const signal = controller.signal as RenewableSignal
  // every relayed connection through the reservation listens to it
  setMaxListeners(Infinity, signal)
  signal.reset = (after?: number) => { if (!signal.aborted) arm(after ?? ms) }
  signal.clear = () => { clearTimeout(timer); timer = undefined }
  arm(ms)
  return signal
}

/** One reservation as circuit-relay-v2's store keeps it: beam replaces its signal. */
interface StoredReservation {
  signal: { clear: () => void, reset: (ms?: number) => void }
}

/** The part of circuit-relay-v2's ReservationStore this patch uses. */
export interface RenewableStore {
  reservationTtl: number
  reservations: {
    get: (peer: PeerId) => StoredReservation | undefined
    delete: (peer: PeerId) => void
  }
  reserve: (peer: PeerId, addr: Multiaddr, limit?: unknown) => unknown
}

/** Whether `store` has the shape this patch expects (circuit-relay-v2's ReservationStore). */
export function isRenewableStore (store: unknown): store is RenewableStore {
  if (typeof store !== 'object' || store == null) return false
  const s = store as Partial<RenewableStore>
  return typeof s.reserve === 'function' && typeof s.reservationTtl === 'number' && typeof s.reservations?.get === 'function'
}

/**
 * Give every reservation `store` creates from now on a {@link renewableSignal}.
 * The library's own signal is cleared before it was ever reset (when its
 * clear still works) and its entry is deleted by the new one at expiry, as the
 * library would.
 */
export function fixReservationRenewal (store: RenewableStore): void {
  const reserve = store.reserve.bind(store)
  store.reserve = (peer, addr, limit) => {
    const before = store.reservations.get(peer)
    const result = reserve(peer, addr, limit)
    const created = store.reservations.get(peer)
    if (created != null && created !== before) {
      created.signal.clear()
      const signal = renewableSignal(store.reservationTtl)
      signal.addEventListener('abort', () => {
        if (store.reservations.get(peer) === created) store.reservations.delete(peer)
      }, { once: true })
      created.signal = signal
    }
    return result
  }
}

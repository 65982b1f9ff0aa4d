import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { dropUnreadCopy } from './circuit-join.ts'
import { HOP_PROTOCOL } from './constants.ts'
import { wrapHandler } from './wrap-handler.ts'
import { HOP_TYPE, parseHopHeader, RELAY_STATUS } from './hop-message.ts'
import type { HandlerHost } from './wrap-handler.ts'

/** What a relay has done since it started. */
export interface RelayCounters {
  /** Bytes the relay forwarded between peers (each byte counted once). */
  bytesRelayed: number
  /** Reservations granted. */
  reservationsAccepted: number
  /** Relayed connections set up. */
  circuitsAccepted: number
  /** Refused HOP requests by reason (RELAY_STATUS name). */
  refusals: Record<string, number>
  /**
   * Requests refused by one of beam's own caps (answered
   * RESOURCE_LIMIT_EXCEEDED, so also in `refusals`), by cap:
   * `reservations_per_ip`, `reservations_per_subnet`, `circuits_per_ip`,
   * `circuits_per_subnet`, `circuits_per_peer`.
   */
  capRefusals: Record<string, number>
  /** Reservations dropped because their holder left and did not come back within the grace period. */
  reservationsDropped: number
  /**
   * Relayed connections the relay cut on a limit, by limit: `data_limit`
   * (maxBytes), `duration_limit` (maxDurationMs, or the reservation ending).
   */
  circuitsCut: Record<string, number>
}

/** A counter in a by-name record, created at 0. */
export function bump (record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1
}

/** Why circuit-relay-v2 ended a relayed connection, from the error it reset the streams with. */
const CUT_REASONS: Record<string, string> = { TransferLimitError: 'data_limit', DurationLimitError: 'duration_limit' }

type Sendable = Uint8Array | Uint8ArrayList

function bytesOf (data: Sendable): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

/**
 * Counts what a relay node forwards, from the inbound HOP stream of each
 * request alone: the relay's first write on it is its answer (OK or the
 * refusal reason); for a relayed connection, every later write carries the
 * destination's bytes back and every later message read carries the source's
 * bytes on. See wrap-handler.ts for why the handler is wrapped. On a
 * circuit's stream it also drops the copy the library would keep of the
 * dialer's bytes (circuit-join.ts).
 */
export class RelayAccounting {
  readonly counters: RelayCounters = { bytesRelayed: 0, reservationsAccepted: 0, circuitsAccepted: 0, refusals: {}, capRefusals: {}, reservationsDropped: 0, circuitsCut: {} }

  /** Wrap the relay's HOP handler; call once the node has started. False if there is none. */
  async install (libp2p: HandlerHost): Promise<boolean> {
    return await wrapHandler(libp2p, HOP_PROTOCOL, async (stream, connection, handler) => {
      this.watch(stream)
      await handler(stream, connection)
    })
  }

  private watch (stream: Stream): void {
    const send = stream.send.bind(stream)
    const dispatch = stream.dispatchEvent.bind(stream)
    let answered = false
    stream.send = (data: Sendable): boolean => {
      if (!answered) {
        answered = true
        if (this.onHopAnswer(bytesOf(data)) === 'circuit') {
          this.watchCut(stream)
          // the library is about to join the streams; see circuit-join.ts
          dropUnreadCopy(stream)
        }
      } else {
        this.counters.bytesRelayed += data.byteLength
      }
      return send(data)
    }
    stream.dispatchEvent = (evt: Event): boolean => {
      if (answered && evt.type === 'message') {
        const data = (evt as Event & { data?: Sendable }).data
        if (data != null) this.counters.bytesRelayed += data.byteLength
      }
      return dispatch(evt)
    }
  }

  /** A relayed connection ends when its HOP stream does: count it if a limit ended it. */
  private watchCut (stream: Stream): void {
    stream.addEventListener('close', (evt: Event) => {
      const name = (evt as Event & { error?: Error }).error?.name
      const reason = name != null ? CUT_REASONS[name] : undefined
      if (reason != null) bump(this.counters.circuitsCut, reason)
    }, { once: true })
  }

  private onHopAnswer (bytes: Uint8Array): 'reservation' | 'circuit' | 'refusal' | undefined {
    const h = parseHopHeader(bytes)
    if (h?.type !== HOP_TYPE.STATUS || h.status == null) return undefined
    const reason = RELAY_STATUS[h.status] ?? `status_${h.status}`
    if (reason !== 'ok') {
      bump(this.counters.refusals, reason)
      return 'refusal'
    }
    if (h.hasReservation === true) {
      this.counters.reservationsAccepted++
      return 'reservation'
    }
    this.counters.circuitsAccepted++
    return 'circuit'
  }
}

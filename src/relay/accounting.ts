import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { HOP_PROTOCOL } from './constants.ts'
import { wrapHandler } from './wrap-handler.ts'
import type { HandlerHost } from './wrap-handler.ts'

/**
 * Status codes of circuit relay v2 HopMessage/StopMessage (the spec's
 * `Status` enum), by name, for refusal metrics.
 */
export const RELAY_STATUS: Record<number, string> = {
  100: 'ok',
  200: 'reservation_refused',
  201: 'resource_limit_exceeded',
  202: 'permission_denied',
  203: 'connection_failed',
  204: 'no_reservation',
  400: 'malformed_message',
  401: 'unexpected_message'
}

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
}

/** The fields of one length-prefixed HopMessage that accounting needs. */
export interface HopHeader { type?: number, status?: number, hasReservation?: boolean }

function readVarint (buf: Uint8Array, at: number): [number, number] | undefined {
  let value = 0
  let shift = 0
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i] ?? 0
    value += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return [value, i + 1]
    shift += 7
  }
  return undefined
}

/**
 * Parse the `type` (field 1) and `status` (field 5) of a varint-length-prefixed
 * HopMessage; other fields are skipped. Undefined if the bytes are not one.
 */
export function parseHopHeader (bytes: Uint8Array): HopHeader | undefined {
  const len = readVarint(bytes, 0)
  if (len == null) return undefined
  const [size, start] = len
  const end = Math.min(bytes.length, start + size)
  const out: HopHeader = {}
  let i = start
  while (i < end) {
    const key = readVarint(bytes, i)
    if (key == null) return undefined
    const [tag, next] = key
    const field = Math.floor(tag / 8)
    const wire = tag % 8
    i = next
    if (wire === 0) {
      const v = readVarint(bytes, i)
      if (v == null) return undefined
      if (field === 1) out.type = v[0]
      if (field === 5) out.status = v[0]
      i = v[1]
    } else if (wire === 2) {
      const l = readVarint(bytes, i)
      if (l == null) return undefined
      if (field === 3) out.hasReservation = true
      i = l[1] + l[0]
    } else {
      return undefined
    }
  }
  return out
}

const HOP_TYPE_STATUS = 2

type Sendable = Uint8Array | Uint8ArrayList

function bytesOf (data: Sendable): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

/**
 * Counts what a relay node forwards, from the inbound HOP stream of each
 * request alone: the relay's first write on it is its answer (OK or the
 * refusal reason); for a relayed connection, every later write carries the
 * destination's bytes back and every later message read carries the source's
 * bytes on. See wrap-handler.ts for why the handler is wrapped.
 */
export class RelayAccounting {
  readonly counters: RelayCounters = { bytesRelayed: 0, reservationsAccepted: 0, circuitsAccepted: 0, refusals: {} }

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
        this.onHopAnswer(bytesOf(data))
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

  private onHopAnswer (bytes: Uint8Array): void {
    const h = parseHopHeader(bytes)
    if (h?.type !== HOP_TYPE_STATUS || h.status == null) return
    const reason = RELAY_STATUS[h.status] ?? `status_${h.status}`
    if (reason === 'ok') {
      if (h.hasReservation === true) this.counters.reservationsAccepted++
      else this.counters.circuitsAccepted++
    } else {
      this.counters.refusals[reason] = (this.counters.refusals[reason] ?? 0) + 1
    }
  }
}

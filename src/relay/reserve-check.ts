import { HOP_PROTOCOL } from './constants.ts'
import { readVarint } from './hop-message.ts'
import type { Connection } from '@libp2p/interface'

/**
 * Asking a relay for a reservation by hand, to learn what the library's
 * reservation store keeps to itself: whether the relay grants one and with
 * which limit. circuit-relay-v2 (4.2.13) reads the answer's `limit` field and
 * drops it; a share choosing among relays needs it (a relay whose circuits
 * are limited is good for signalling only).
 */

/** The limit of a reservation's relayed connections, as the relay sent it. */
export interface ReservationLimit {
  /**
   * The `duration` field, unset when absent. The spec says seconds;
   * js-libp2p relays send milliseconds, go-libp2p relays seconds: read it as
   * "there is a time limit", not as a number of a known unit.
   */
  duration?: number
  /** The `data` field: bytes a relayed connection may carry; unset when absent. */
  data?: number
}

/** A relay's answer to RESERVE. */
export interface ReservationAnswer {
  /** The HopMessage status (100 = OK; see RELAY_STATUS). */
  status: number
  /** When the reservation expires, in seconds since the epoch (OK answers). */
  expire?: number
  /** The limit its relayed connections carry; unset = unlimited. */
  limit?: ReservationLimit
}

/** A relay did not answer RESERVE with a HopMessage beam can read. */
export class ReservationAnswerError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ReservationAnswerError'
  }
}

/** Longest HopMessage read here: a reservation lists a few addresses and a signed voucher. */
const MAX_ANSWER = 8192

/** HopMessage{type: RESERVE}, length-prefixed. */
const RESERVE = Uint8Array.from([2, 0x08, 0x00])

/** Whether a limit is one at all (a relay may send an empty Limit message, or zeros). */
export function isLimited (limit: ReservationLimit | undefined): boolean {
  return limit != null && ((limit.duration ?? 0) > 0 || (limit.data ?? 0) > 0)
}

/** The varint fields 1 and 2 of a Limit or Reservation message (other fields skipped); undefined if malformed. */
function varintFields (bytes: Uint8Array): Map<number, number> | undefined {
  const out = new Map<number, number>()
  let i = 0
  while (i < bytes.length) {
    const key = readVarint(bytes, i)
    if (key == null) return undefined
    const field = Math.floor(key[0] / 8)
    const wire = key[0] % 8
    i = key[1]
    const v = readVarint(bytes, i)
    if (v == null) return undefined
    if (wire === 0) { out.set(field, v[0]); i = v[1] } else if (wire === 2) i = v[1] + v[0]
    else return undefined
  }
  return i === bytes.length ? out : undefined
}

/**
 * Parse one length-prefixed HopMessage STATUS answer: status (field 5),
 * reservation (3, its expire) and limit (4). Throws ReservationAnswerError
 * if the bytes are not one.
 */
export function parseReservationAnswer (bytes: Uint8Array): ReservationAnswer {
  const len = readVarint(bytes, 0)
  if (len == null || len[1] + len[0] > bytes.length) throw new ReservationAnswerError('truncated HopMessage')
  const body = bytes.subarray(len[1], len[1] + len[0])
  let status: number | undefined
  let expire: number | undefined
  let limit: ReservationLimit | undefined
  let i = 0
  while (i < body.length) {
    const key = readVarint(body, i)
    if (key == null) throw new ReservationAnswerError('malformed HopMessage')
    const field = Math.floor(key[0] / 8)
    const wire = key[0] % 8
    i = key[1]
    const v = readVarint(body, i)
    if (v == null) throw new ReservationAnswerError('malformed HopMessage')
    if (wire === 0) {
      if (field === 5) status = v[0]
      i = v[1]
    } else if (wire === 2) {
      const inner = body.subarray(v[1], v[1] + v[0])
      if (inner.length !== v[0]) throw new ReservationAnswerError('malformed HopMessage')
      if (field === 3 || field === 4) {
        const f = varintFields(inner)
        if (f == null) throw new ReservationAnswerError('malformed HopMessage')
        if (field === 3) expire = f.get(1)
        else {
          limit = {}
          const duration = f.get(1)
          const data = f.get(2)
          if (duration != null) limit.duration = duration
          if (data != null) limit.data = data
        }
      }
      i = v[1] + v[0]
    } else {
      throw new ReservationAnswerError('malformed HopMessage')
    }
  }
  if (status == null) throw new ReservationAnswerError('HopMessage without a status')
  return { status, ...(expire != null ? { expire } : {}), ...(limit != null ? { limit } : {}) }
}

/** Read one varint-length-prefixed message of at most {@link MAX_ANSWER} bytes from `stream`. */
async function readOne (stream: AsyncIterable<Uint8Array | { subarray: () => Uint8Array }>): Promise<Uint8Array> {
  let got = new Uint8Array(0)
  for await (const chunk of stream) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    const next = new Uint8Array(got.length + bytes.length)
    next.set(got)
    next.set(bytes, got.length)
    got = next
    const len = readVarint(got, 0)
    if (len != null && got.length >= len[1] + len[0]) return got.subarray(0, len[1] + len[0])
    if (got.length > MAX_ANSWER) throw new ReservationAnswerError(`HopMessage longer than ${MAX_ANSWER} bytes`)
  }
  throw new ReservationAnswerError('the relay closed the stream without an answer')
}

/**
 * Send RESERVE to the relay at the other end of `connection` (a direct one)
 * and read its answer. A granted reservation is a real one: the relay keeps
 * it for its lifetime (taking it again, as the transport does when the node
 * listens on that relay, renews the same one). Rejects on a stream error, a
 * malformed answer or the signal.
 */
export async function requestReservation (connection: Connection, options: { signal: AbortSignal }): Promise<ReservationAnswer> {
  options.signal.throwIfAborted()
  const stream = await connection.newStream(HOP_PROTOCOL, { signal: options.signal })
  try {
    stream.send(RESERVE)
    const onAbort = (): void => { stream.abort(new Error('reservation check aborted')) }
    options.signal.addEventListener('abort', onAbort, { once: true })
    try {
      return parseReservationAnswer(await readOne(stream))
    } finally {
      options.signal.removeEventListener('abort', onAbort)
    }
  } finally {
    await stream.close().catch(() => { stream.abort(new Error('close failed')) })
  }
}

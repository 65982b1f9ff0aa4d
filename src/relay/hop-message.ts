import type { Stream } from '@libp2p/interface'

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

/** HopMessage `type` values (the spec's `HopMessage.Type`). */
export const HOP_TYPE = { RESERVE: 0, CONNECT: 1, STATUS: 2 } as const

/** The fields of one length-prefixed HopMessage that beam's relay policing reads. */
export interface HopHeader { type?: number, status?: number, hasReservation?: boolean }

/** An unsigned varint at `at`: [value, index after it], or undefined if the bytes end first. */
export function readVarint (buf: Uint8Array, at: number): [number, number] | undefined {
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

/** HopMessage{type: STATUS, status: RESOURCE_LIMIT_EXCEEDED}, length-prefixed. */
const RESOURCE_LIMIT_EXCEEDED = Uint8Array.from([5, 0x08, 0x02, 0x28, 0xc9, 0x01])

/** HopMessage{type: STATUS, status: MALFORMED_MESSAGE}, length-prefixed. */
const MALFORMED_MESSAGE = Uint8Array.from([5, 0x08, 0x02, 0x28, 0x90, 0x03])

async function answerAndClose (stream: Stream, answer: Uint8Array, why: string): Promise<void> {
  try {
    stream.send(answer)
    await stream.close()
  } catch {
    stream.abort(new Error(why))
  }
}

/**
 * Answer a HOP request RESOURCE_LIMIT_EXCEEDED, as circuit-relay-v2 does for
 * its own global limits, and close the stream: the client then tries another
 * relay or reports why.
 */
export async function refuseHop (stream: Stream, why: string): Promise<void> {
  await answerAndClose(stream, RESOURCE_LIMIT_EXCEEDED, why)
}

/** Answer a HOP request MALFORMED_MESSAGE (as the library does for one it cannot read) and close the stream. */
export async function refuseMalformed (stream: Stream): Promise<void> {
  await answerAndClose(stream, MALFORMED_MESSAGE, 'malformed HOP request')
}

import { lpStream } from '@libp2p/utils'
import { HOP_PROTOCOL } from '../../relay/index.ts'
import type { Connection } from '@libp2p/interface'

/**
 * Whether a relay limits the connections it relays for this node. The
 * circuit-relay-v2 client keeps a reservation's addresses and expiry but
 * drops the `limit` of the relay's answer, so beam asks once more: a RESERVE
 * from a peer that holds a reservation is a renewal (the relay answers with
 * the same terms and extends it), and its answer says whether relayed
 * connections are capped in data or duration.
 */

/** Bound of one limit query, in ms. */
export const RELAY_LIMIT_QUERY_TIMEOUT = 10_000

/** The largest HopMessage answer read, in bytes (an answer is a few hundred). */
const MAX_ANSWER = 4096

/** HopMessage{type: RESERVE}: field 1, varint 0. */
const RESERVE = Uint8Array.from([0x08, 0x00])

/** What a relay's answer to RESERVE said. */
export interface RelayTerms {
  /** Whether it granted the reservation (status OK). */
  ok: boolean
  /** Whether relayed connections are limited (the answer carries a `limit`). */
  limited: boolean
  /** The data limit, in bytes, when there is one. */
  dataBytes?: number
  /**
   * The duration limit when there is one, as the relay sent it: seconds by
   * the circuit-relay-v2 spec, milliseconds from js-libp2p relays (3.x, whose
   * server writes its millisecond setting into the field).
   */
  duration?: number
}

/** A varint at `at`: [value, bytes read], or undefined when the bytes end first. */
function varint (buf: Uint8Array, at: number): [number, number] | undefined {
  let value = 0
  let mul = 1
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i] ?? 0
    value += (b & 0x7f) * mul
    mul *= 128
    if ((b & 0x80) === 0) return [value, i - at + 1]
  }
  return undefined
}

/** Fields of a protobuf message: number → varint value or bytes (pure; undefined if malformed). */
function fields (buf: Uint8Array): Map<number, number | Uint8Array> | undefined {
  const out = new Map<number, number | Uint8Array>()
  let i = 0
  while (i < buf.length) {
    const tag = varint(buf, i)
    if (tag == null) return undefined
    i += tag[1]
    const field = Math.floor(tag[0] / 8)
    const wire = tag[0] % 8
    if (wire === 0) {
      const v = varint(buf, i)
      if (v == null) return undefined
      out.set(field, v[0])
      i += v[1]
    } else if (wire === 2) {
      const len = varint(buf, i)
      if (len == null || i + len[1] + len[0] > buf.length) return undefined
      i += len[1]
      out.set(field, buf.subarray(i, i + len[0]))
      i += len[0]
    } else {
      return undefined
    }
  }
  return out
}

/**
 * Read a relay's answer to RESERVE (a HopMessage without its length prefix;
 * pure). Undefined when the bytes are not one.
 */
export function parseReserveAnswer (bytes: Uint8Array): RelayTerms | undefined {
  const msg = fields(bytes)
  if (msg == null) return undefined
  // HopMessage: 5 = status (100 is OK), 4 = limit { 1 = duration, 2 = data bytes }
  const terms: RelayTerms = { ok: msg.get(5) === 100, limited: false }
  const limit = msg.get(4)
  if (limit instanceof Uint8Array) {
    terms.limited = true
    const l = fields(limit)
    const duration = l?.get(1)
    const data = l?.get(2)
    if (typeof duration === 'number' && duration > 0) terms.duration = duration
    if (typeof data === 'number' && data > 0) terms.dataBytes = data
  }
  return terms
}

/**
 * Ask a relay, over an open connection to it, under which terms it relays
 * for this node (a reservation renewal). Rejects when the stream fails or
 * the answer is not a HopMessage.
 */
export async function queryRelayTerms (connection: Connection, options: { signal?: AbortSignal } = {}): Promise<RelayTerms> {
  const signal = AbortSignal.any([AbortSignal.timeout(RELAY_LIMIT_QUERY_TIMEOUT), ...(options.signal != null ? [options.signal] : [])])
  const stream = await connection.newStream(HOP_PROTOCOL, { signal })
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_ANSWER })
    await lp.write(RESERVE, { signal })
    const answer = await lp.read({ signal })
    const terms = parseReserveAnswer(answer.subarray())
    if (terms == null) throw new Error('the relay\'s answer is not a HopMessage')
    return terms
  } finally {
    await stream.close({ signal }).catch(() => { stream.abort(new Error('closed')) })
  }
}

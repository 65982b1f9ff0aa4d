import { isLimited, parseReservationAnswer, requestReservation } from '../../relay/index.ts'
import type { ReservationAnswer } from '../../relay/index.ts'
import { encode as encodeVarint } from 'uint8-varint'
import type { Connection } from '@libp2p/interface'

/**
 * Whether a relay limits the connections it relays for this node. The
 * circuit-relay-v2 client keeps a reservation's addresses and expiry but
 * drops the `limit` of the relay's answer, so beam asks once more: a RESERVE
 * from a peer that holds a reservation is a renewal (the relay answers with
 * the same terms and extends it), and its answer says whether relayed
 * connections are capped in data or duration. The wire format is read by
 * src/relay/reserve-check.ts (the relay finder asks the same question).
 */

/** Bound of one limit query, in ms. */
export const RELAY_LIMIT_QUERY_TIMEOUT = 10_000

/** HopMessage status of a granted reservation. */
const STATUS_OK = 100

/** What a relay's answer to RESERVE said. */
export interface RelayTerms {
  /** Whether it granted the reservation (status OK). */
  ok: boolean
  /** Whether relayed connections are limited (the answer carries a non-zero `limit`). */
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

/** The terms of a relay's answer (pure). */
export function termsOf (answer: ReservationAnswer): RelayTerms {
  const terms: RelayTerms = { ok: answer.status === STATUS_OK, limited: isLimited(answer.limit) }
  if ((answer.limit?.duration ?? 0) > 0) terms.duration = answer.limit?.duration
  if ((answer.limit?.data ?? 0) > 0) terms.dataBytes = answer.limit?.data
  return terms
}

/**
 * Read a relay's answer to RESERVE (a HopMessage without its length prefix;
 * pure). Undefined when the bytes are not one.
 */
export function parseReserveAnswer (bytes: Uint8Array): RelayTerms | undefined {
  const framed = new Uint8Array([...encodeVarint(bytes.length), ...bytes])
  try {
    return termsOf(parseReservationAnswer(framed))
  } catch {
    return undefined
  }
}

/**
 * Ask a relay, over an open connection to it, under which terms it relays
 * for this node (a reservation renewal). Rejects when the stream fails or
 * the answer is not a HopMessage.
 */
export async function queryRelayTerms (connection: Connection, options: { signal?: AbortSignal } = {}): Promise<RelayTerms> {
  const signal = AbortSignal.any([AbortSignal.timeout(RELAY_LIMIT_QUERY_TIMEOUT), ...(options.signal != null ? [options.signal] : [])])
  return termsOf(await requestReservation(connection, { signal }))
}

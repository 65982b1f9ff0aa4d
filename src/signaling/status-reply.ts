import { HANDSHAKE_VERSION, MAX_REASON_LENGTH } from './constants.ts'
import { HandshakeError } from './errors.ts'
import { checkHeader } from './header.ts'

/**
 * The one reply shape shared by the tunnel handshake and connection
 * reversal: `version u8 | status u8 | reason (UTF-8, rest of the message)`,
 * the reason cut to MAX_REASON_LENGTH bytes.
 */
export interface StatusReply<S extends number> {
  status: S
  reason: string
}

/** Code → name of a status table (`{ OK: 0, … }`), for logs and to tell known codes. */
export function statusNames (table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  return new Map<number, string>(Object.entries(table).map(([k, v]) => [v, k]))
}

/** Name of `status` in `names`, or `STATUS_<n>` for a code the table does not know. */
export function nameOfStatus (names: ReadonlyMap<number, string>, status: number): string {
  return names.get(status) ?? `STATUS_${status}`
}

export function encodeStatusReply (res: StatusReply<number>): Uint8Array {
  let reason = Buffer.from(res.reason, 'utf8')
  if (reason.length > MAX_REASON_LENGTH) reason = reason.subarray(0, MAX_REASON_LENGTH)
  const out = new Uint8Array(2 + reason.length)
  out[0] = HANDSHAKE_VERSION
  out[1] = res.status
  out.set(reason, 2)
  return out
}

/**
 * Decode a status reply whose status must be one of `names`; `what` names
 * the protocol in error messages (`tunnel`, `reversal`).
 */
export function decodeStatusReply<S extends number> (buf: Uint8Array, names: ReadonlyMap<number, string>, what: string): StatusReply<S> {
  checkHeader(buf, 2, `${what} response`)
  const status = buf[1] ?? 0
  if (!names.has(status)) throw new HandshakeError(`unknown ${what} status ${status}`)
  if (buf.length - 2 > MAX_REASON_LENGTH) throw new HandshakeError(`${what} response reason too long`)
  return { status: status as S, reason: Buffer.from(buf.subarray(2)).toString('utf8') }
}

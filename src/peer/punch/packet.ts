import { timingSafeEqual } from 'node:crypto'

/**
 * The datagrams of a punch: `magic 'BPN1' | kind u8 | token (16 bytes)`.
 * The token is agreed over the relayed connection for one attempt; a
 * datagram without it (a stray packet, another attempt) is ignored.
 */
export const PUNCH_TOKEN_LENGTH = 16
export const PUNCH_PACKET_LENGTH = 4 + 1 + PUNCH_TOKEN_LENGTH

const MAGIC = Buffer.from('BPN1', 'latin1')

/** A probe opens a mapping or a filter; an ack answers a probe that got through. */
export const PunchKind = { PROBE: 0, ACK: 1 } as const
export type PunchKind = typeof PunchKind[keyof typeof PunchKind]

export function encodePunchPacket (kind: PunchKind, token: Uint8Array): Buffer {
  if (token.length !== PUNCH_TOKEN_LENGTH) throw new RangeError(`punch token must be ${PUNCH_TOKEN_LENGTH} bytes`)
  const b = Buffer.alloc(PUNCH_PACKET_LENGTH)
  MAGIC.copy(b, 0)
  b[4] = kind
  b.set(token, 5)
  return b
}

/** The kind of a punch datagram carrying `token`, or undefined for anything else. */
export function decodePunchPacket (msg: Uint8Array, token: Uint8Array): PunchKind | undefined {
  if (msg.length !== PUNCH_PACKET_LENGTH || token.length !== PUNCH_TOKEN_LENGTH) return undefined
  for (let i = 0; i < MAGIC.length; i++) if (msg[i] !== MAGIC[i]) return undefined
  const kind = msg[4]
  if (kind !== PunchKind.PROBE && kind !== PunchKind.ACK) return undefined
  return timingSafeEqual(msg.subarray(5), token) ? kind : undefined
}

import { lpStream } from '@libp2p/utils'
import type { AbortOptions, Stream } from '@libp2p/interface'
import { isLinkLocal, isLoopback, isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { HANDSHAKE_VERSION, MAX_HANDSHAKE_MESSAGE, PROOF_LENGTH } from './constants.ts'
import { HandshakeError } from './errors.ts'
import { checkHeader } from './header.ts'
import { decodeStatusReply, encodeStatusReply, nameOfStatus, statusNames } from './status-reply.ts'

/**
 * Connection reversal: a connector whose only connection to a share goes
 * through a relay asks the share, over that relayed connection, to dial it
 * back on addresses it lists. The major version changes only with an
 * incompatible wire change.
 */
export const REVERSAL_PROTOCOL = '/beam/reverse/1.0.0'

/** Addresses one reversal request may carry at most. */
export const MAX_REVERSAL_ADDRESSES = 4

/** Longest address (multiaddr bytes) a reversal request may carry. */
export const MAX_REVERSAL_ADDRESS_LENGTH = 64

/**
 * A connector's request to be dialled back.
 *
 * Wire layout (version 1), one length-prefixed message:
 * `version u8 | proofLength u8 | proof | count u8 | (length u8 | multiaddr bytes) × count`
 */
export interface ReversalRequest {
  /** HMAC proof of the access secret (the tunnel handshake's), or absent. */
  proof?: Uint8Array
  /** Where the share should dial: the connector's own TCP or QUIC addresses. */
  addresses: Multiaddr[]
}

/** The share's answer, sent once its dial has ended (or at once when it does not dial). */
export const ReversalStatus = {
  /** The share dialled back: a direct connection to the connector is open. */
  CONNECTED: 0,
  /** The share dialled every accepted address and none answered. */
  DIAL_FAILED: 1,
  /** The access policy refused the peer: the share does not dial. */
  UNAUTHORIZED: 2,
  /** No listed address passed the share's rules (see the share's reversal policy). */
  NO_ADDRESS: 3,
  /** The peer, or the share in all, used up its reversal attempts for now. */
  RATE_LIMITED: 4,
  /** The request could not be parsed. */
  BAD_REQUEST: 5
} as const
export type ReversalStatus = typeof ReversalStatus[keyof typeof ReversalStatus]

const STATUS_NAMES = statusNames(ReversalStatus)

/** Name of a reversal status for logs, e.g. `DIAL_FAILED`. */
export function reversalStatusName (status: number): string {
  return nameOfStatus(STATUS_NAMES, status)
}

/** The share's reply. Wire layout (version 1): `version u8 | status u8 | reason (UTF-8, rest)`. */
export interface ReversalResponse {
  status: ReversalStatus
  /** Human-readable detail; never names the share's own addresses. */
  reason: string
}

export function encodeReversalRequest (req: ReversalRequest): Uint8Array {
  const proof = req.proof ?? new Uint8Array(0)
  if (proof.length !== 0 && proof.length !== PROOF_LENGTH) throw new HandshakeError(`proof must be ${PROOF_LENGTH} bytes`)
  if (req.addresses.length > MAX_REVERSAL_ADDRESSES) throw new HandshakeError(`at most ${MAX_REVERSAL_ADDRESSES} addresses`)
  const addrs = req.addresses.map(a => a.bytes)
  for (const a of addrs) if (a.length > MAX_REVERSAL_ADDRESS_LENGTH) throw new HandshakeError('address too long')
  const out = new Uint8Array(3 + proof.length + addrs.reduce((n, a) => n + 1 + a.length, 0))
  out[0] = HANDSHAKE_VERSION
  out[1] = proof.length
  out.set(proof, 2)
  let at = 2 + proof.length
  out[at++] = addrs.length
  for (const a of addrs) {
    out[at++] = a.length
    out.set(a, at)
    at += a.length
  }
  return out
}

/** Decode a reversal request; every field is bounded. Addresses that do not parse are a HandshakeError. */
export function decodeReversalRequest (buf: Uint8Array): ReversalRequest {
  checkHeader(buf, 3, 'reversal request')
  const proofLength = buf[1] ?? 0
  if (proofLength !== 0 && proofLength !== PROOF_LENGTH) throw new HandshakeError(`bad proof length ${proofLength}`)
  let at = 2 + proofLength
  if (buf.length < at + 1) throw new HandshakeError('truncated reversal request')
  const req: ReversalRequest = { addresses: [] }
  if (proofLength > 0) req.proof = buf.slice(2, 2 + proofLength)
  const count = buf[at++] ?? 0
  if (count > MAX_REVERSAL_ADDRESSES) throw new HandshakeError(`too many addresses (${count}; at most ${MAX_REVERSAL_ADDRESSES})`)
  for (let i = 0; i < count; i++) {
    const length = buf[at++]
    if (length == null || length === 0 || length > MAX_REVERSAL_ADDRESS_LENGTH || at + length > buf.length) throw new HandshakeError('bad address in reversal request')
    try {
      req.addresses.push(multiaddr(buf.slice(at, at + length)))
    } catch {
      throw new HandshakeError('undecodable address in reversal request')
    }
    at += length
  }
  if (at !== buf.length) throw new HandshakeError('reversal request has the wrong length')
  return req
}

export function encodeReversalResponse (res: ReversalResponse): Uint8Array {
  return encodeStatusReply(res)
}

export function decodeReversalResponse (buf: Uint8Array): ReversalResponse {
  return decodeStatusReply<ReversalStatus>(buf, STATUS_NAMES, 'reversal')
}

/**
 * Connector side: send the request, wait for the share's answer (it comes
 * after the share's dial), and close the stream (it carries one exchange).
 */
export async function sendReversalRequest (stream: Stream, req: ReversalRequest, options: AbortOptions = {}): Promise<ReversalResponse> {
  const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE })
  await lp.write(encodeReversalRequest(req), options)
  const res = decodeReversalResponse((await lp.read(options)).subarray())
  await lp.unwrap().close(options).catch(() => {})
  return res
}

/** Share side of one reversal stream: the request, and how to answer it. */
export interface IncomingReversal {
  request: ReversalRequest
  respond: (res: ReversalResponse, options?: AbortOptions) => Promise<void>
}

/**
 * Share side: read and decode the request of a reversal stream. A frame
 * that does not decode is answered BAD_REQUEST (best effort) before the
 * error is thrown.
 */
export async function readReversalRequest (stream: Stream, options: AbortOptions = {}): Promise<IncomingReversal> {
  const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE })
  const respond = async (res: ReversalResponse, opts?: AbortOptions): Promise<void> => { await lp.write(encodeReversalResponse(res), opts ?? options) }
  const frame = await lp.read(options)
  try {
    return { request: decodeReversalRequest(frame.subarray()), respond }
  } catch (err) {
    await respond({ status: ReversalStatus.BAD_REQUEST, reason: (err as Error).message }).catch(() => {})
    throw err
  }
}

/**
 * Whether `ma` has the shape a dial-back address must have: an IPv4 or IPv6
 * literal (no name: the share resolves nothing for a peer) that is public
 * (not private, loopback, link-local or unspecified), then TCP, or UDP with
 * QUIC v1, on a non-zero port, and nothing else but an optional trailing
 * `/p2p/<peer>` (no relay, no WebSockets, no WebRTC).
 */
export function isDialBackAddress (ma: Multiaddr): boolean {
  const c = ma.getComponents()
  const tail = c.at(-1)?.name === 'p2p' ? c.slice(0, -1) : c
  const [ip, transport, quic] = tail
  if (ip == null || transport == null) return false
  if (ip.name !== 'ip4' && ip.name !== 'ip6') return false
  const value = ip.value ?? ''
  if (value === '0.0.0.0' || value === '::' || isMulticast(ip.name, value)) return false
  const port = Number(transport.value)
  if (!Number.isInteger(port) || port < 1 || port > 65535) return false
  if (transport.name === 'tcp') { if (tail.length !== 2) return false } else if (transport.name === 'udp') {
    if (tail.length !== 3 || quic?.name !== 'quic-v1') return false
  } else {
    return false
  }
  try {
    return isPrivate(ma) !== true && !isLoopback(ma) && !isLinkLocal(ma)
  } catch {
    return false
  }
}

/** IPv4 224.0.0.0/4 or IPv6 ff00::/8. */
function isMulticast (family: string, value: string): boolean {
  if (family === 'ip6') return value.toLowerCase().startsWith('ff')
  const first = Number(value.split('.')[0])
  return first >= 224 && first <= 239
}

import { createHmac, timingSafeEqual } from 'node:crypto'
import { FLAG_PROBE, FLAG_UDP, HANDSHAKE_VERSION, PROOF_LABEL, PROOF_LENGTH } from './constants.ts'
import { HandshakeError } from './errors.ts'
import { checkHeader } from './header.ts'
import { decodeStatusReply, encodeStatusReply, nameOfStatus, statusNames } from './status-reply.ts'

/**
 * What the connector asks for when it opens a tunnel stream.
 *
 * Wire layout (version 1), sent as one length-prefixed message:
 * `version u8 | flags u8 | port u16be | proofLength u8 | proof`
 * (flags: 0x01 probe, 0x02 udp)
 */
export interface TunnelRequest {
  /** Shared port wanted; 0 asks for the share's default (its first port). */
  port: number
  /** Only check access and port; do not connect to the shared service. */
  probe: boolean
  /** A datagram (UDP) tunnel: `port` names a UDP service, the stream carries framed datagrams. @default false */
  udp?: boolean
  /** HMAC proof of the access secret, or absent. */
  proof?: Uint8Array
}

/** The answer of the share. */
export const TunnelStatus = {
  /** Accepted: the tunnel is joined to the service. */
  OK: 0,
  /** The access policy refused the peer. */
  UNAUTHORIZED: 1,
  /** The share offers no such port. */
  UNKNOWN_PORT: 2,
  /** The local service did not accept the connection (the reason does not say where it runs). */
  SERVICE_UNAVAILABLE: 3,
  /** The request could not be parsed. */
  BAD_REQUEST: 4,
  /** The request's handshake version is not known. */
  UNSUPPORTED_VERSION: 5,
  /** The peer, or the share in all, holds as many tunnels as the share allows; a later attempt may work. */
  OVERLOADED: 6,
  /**
   * The tunnel came over a connection with limits (a relay that limits data
   * or time): such a connection carries signalling and probes, not tunnels.
   */
  LIMITED_CONNECTION: 7
} as const
export type TunnelStatus = typeof TunnelStatus[keyof typeof TunnelStatus]

const STATUS_NAMES = statusNames(TunnelStatus)

/** Name of a status code for logs, e.g. `UNAUTHORIZED`. */
export function statusName (status: number): string {
  return nameOfStatus(STATUS_NAMES, status)
}

/**
 * The share's reply. Wire layout (version 1):
 * `version u8 | status u8 | reason (UTF-8, rest of the message)`
 */
export interface TunnelResponse {
  status: TunnelStatus
  /** Human-readable detail; never contains secrets. */
  reason: string
}

export function encodeRequest (req: TunnelRequest): Uint8Array {
  if (!Number.isInteger(req.port) || req.port < 0 || req.port > 65535) {
    throw new HandshakeError(`port ${req.port} is out of range`)
  }
  const proof = req.proof ?? new Uint8Array(0)
  if (proof.length !== 0 && proof.length !== PROOF_LENGTH) {
    throw new HandshakeError(`proof must be ${PROOF_LENGTH} bytes`)
  }
  const out = new Uint8Array(5 + proof.length)
  out[0] = HANDSHAKE_VERSION
  out[1] = (req.probe ? FLAG_PROBE : 0) | (req.udp === true ? FLAG_UDP : 0)
  out[2] = req.port >> 8
  out[3] = req.port & 0xff
  out[4] = proof.length
  out.set(proof, 5)
  return out
}

export function decodeRequest (buf: Uint8Array): TunnelRequest {
  checkHeader(buf, 5, 'tunnel request')
  const flags = buf[1] ?? 0
  if ((flags & ~(FLAG_PROBE | FLAG_UDP)) !== 0) throw new HandshakeError(`unknown request flags 0x${flags.toString(16)}`)
  const port = ((buf[2] ?? 0) << 8) | (buf[3] ?? 0)
  const proofLength = buf[4] ?? 0
  if (proofLength !== 0 && proofLength !== PROOF_LENGTH) throw new HandshakeError(`bad proof length ${proofLength}`)
  if (buf.length !== 5 + proofLength) throw new HandshakeError('tunnel request has the wrong length')
  const req: TunnelRequest = { port, probe: (flags & FLAG_PROBE) !== 0 }
  if ((flags & FLAG_UDP) !== 0) req.udp = true
  if (proofLength > 0) req.proof = buf.slice(5, 5 + proofLength)
  return req
}

export function encodeResponse (res: TunnelResponse): Uint8Array {
  return encodeStatusReply(res)
}

export function decodeResponse (buf: Uint8Array): TunnelResponse {
  return decodeStatusReply<TunnelStatus>(buf, STATUS_NAMES, 'tunnel')
}

/**
 * Proof that the connector holds the access secret, bound to both peer ids so
 * that it is worthless for any other pair of peers:
 * `HMAC-SHA256(secret, label || 0x00 || connectorPeerIdBytes || sharePeerIdBytes)`.
 */
export function accessProof (secret: Uint8Array, connector: Uint8Array, share: Uint8Array): Uint8Array {
  const h = createHmac('sha256', secret)
  h.update(PROOF_LABEL)
  h.update(new Uint8Array([0]))
  h.update(connector)
  h.update(share)
  return new Uint8Array(h.digest())
}

/** Constant-time check of a presented proof. */
export function verifyAccessProof (secret: Uint8Array, connector: Uint8Array, share: Uint8Array, proof: Uint8Array | undefined): boolean {
  if (proof == null || proof.length !== PROOF_LENGTH) return false
  return timingSafeEqual(accessProof(secret, connector, share), proof)
}

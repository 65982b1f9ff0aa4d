import { isLinkLocal, isLoopback, isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { isIPv4 } from 'node:net'
import { HANDSHAKE_VERSION, PROOF_LENGTH } from './constants.ts'
import { HandshakeError } from './errors.ts'
import { checkHeader } from './header.ts'

/**
 * Coordination of a UDP hole punch across one hard NAT (the birthday
 * method, src/peer/punch), over the relayed connection: who is which side,
 * the attempt's token, the easy side's public mapping, the hard side's
 * address and sequence hint, and each side's outcome. A few hundred bytes:
 * allowed on a limited relay. The major version changes only with an
 * incompatible wire change.
 */
export const PUNCH_PROTOCOL = '/beam/punch/1.0.0'

/** Length of the token every punch datagram carries. */
export const PUNCH_TOKEN_BYTES = 16

/** How a side's NAT maps UDP, as its STUN answers showed. */
export const PunchNat = {
  /** Public, or an endpoint-independent mapping: one public port for every destination (the easy side). */
  EASY: 0,
  /** A mapping per destination (symmetric, random or sequential ports): the hard side. */
  HARD: 1,
  /** Could not tell (fewer than two STUN answers). */
  UNKNOWN: 2
} as const
export type PunchNat = typeof PunchNat[keyof typeof PunchNat]

/** The share's answer to an offer. */
export const PunchStatus = {
  /** Go ahead: the roles follow from the two NAT kinds. */
  ACCEPTED: 0,
  /** The access policy refused the peer. */
  UNAUTHORIZED: 1,
  /** Neither side is hard: WebRTC's own ICE finds the path without this. */
  NOT_NEEDED: 2,
  /** Both sides are hard (or unknown): the method does not apply. */
  UNSUPPORTED: 3,
  /** The peer, or the share in all, used up its punch attempts for now. */
  RATE_LIMITED: 4,
  /** The offer could not be parsed, or named an address that is not a public IPv4 one. */
  BAD_REQUEST: 5
} as const
export type PunchStatus = typeof PunchStatus[keyof typeof PunchStatus]

const STATUSES = new Set<number>(Object.values(PunchStatus))
const NATS = new Set<number>(Object.values(PunchNat))

/** An IPv4 address and UDP port. */
export interface PunchEndpoint { ip: string, port: number }

/** Connector → share: the first message. */
export interface PunchOffer {
  type: 'offer'
  /** HMAC proof of the access secret (the tunnel handshake's), or absent. */
  proof?: Uint8Array
  token: Uint8Array
  nat: PunchNat
  /** The connector's public mapping (the socket it punches from), when it is the easy side. */
  mapping?: PunchEndpoint
}

/** Share → connector. */
export interface PunchAnswer {
  type: 'answer'
  status: PunchStatus
  nat: PunchNat
  /** The share's public mapping, when it is the easy side and accepted. */
  mapping?: PunchEndpoint
}

/** Hard side → easy side, once its sockets are open: where to probe, and which ports first. */
export interface PunchGo {
  type: 'go'
  /** The hard side's public IPv4 address. */
  ip: string
  /** The ports a STUN server saw just before and after the burst (sequence prediction). */
  hint?: { before: number, after: number }
}

/** Each side → the other, at the end: whether it holds a working pair, and its local port for it. */
export interface PunchDone {
  type: 'done'
  ok: boolean
  port: number
}

export type PunchMessage = PunchOffer | PunchAnswer | PunchGo | PunchDone

const TYPE = { offer: 1, answer: 2, go: 3, done: 4 } as const

function putEndpoint (out: Uint8Array, at: number, e: PunchEndpoint | undefined): void {
  const parts = (e?.ip ?? '0.0.0.0').split('.').map(Number)
  for (let i = 0; i < 4; i++) out[at + i] = parts[i] ?? 0
  out[at + 4] = ((e?.port ?? 0) >> 8) & 255
  out[at + 5] = (e?.port ?? 0) & 255
}

function getEndpoint (buf: Uint8Array, at: number): PunchEndpoint | undefined {
  const ip = Array.from(buf.subarray(at, at + 4)).join('.')
  const port = ((buf[at + 4] ?? 0) << 8) | (buf[at + 5] ?? 0)
  return ip === '0.0.0.0' && port === 0 ? undefined : { ip, port }
}

function u16 (buf: Uint8Array, at: number): number {
  return ((buf[at] ?? 0) << 8) | (buf[at + 1] ?? 0)
}

function checkEndpoint (e: PunchEndpoint | undefined): void {
  if (e == null) return
  if (!isIPv4(e.ip)) throw new HandshakeError('punch endpoints are IPv4 addresses')
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new HandshakeError('bad punch port')
}

/**
 * Wire layout (version 1), one length-prefixed message each, `version u8 | type u8 | body`:
 * - offer: `proofLength u8 | proof | token (16) | nat u8 | ipv4 (4) | port u16` (0.0.0.0:0 = no mapping)
 * - answer: `status u8 | nat u8 | ipv4 (4) | port u16`
 * - go: `ipv4 (4) | hasHint u8 | before u16 | after u16`
 * - done: `ok u8 | port u16`
 */
export function encodePunchMessage (m: PunchMessage): Uint8Array {
  let body: Uint8Array
  if (m.type === 'offer') {
    const proof = m.proof ?? new Uint8Array(0)
    if (proof.length !== 0 && proof.length !== PROOF_LENGTH) throw new HandshakeError(`proof must be ${PROOF_LENGTH} bytes`)
    if (m.token.length !== PUNCH_TOKEN_BYTES) throw new HandshakeError(`token must be ${PUNCH_TOKEN_BYTES} bytes`)
    checkEndpoint(m.mapping)
    body = new Uint8Array(1 + proof.length + PUNCH_TOKEN_BYTES + 1 + 6)
    body[0] = proof.length
    body.set(proof, 1)
    body.set(m.token, 1 + proof.length)
    body[1 + proof.length + PUNCH_TOKEN_BYTES] = m.nat
    putEndpoint(body, 2 + proof.length + PUNCH_TOKEN_BYTES, m.mapping)
  } else if (m.type === 'answer') {
    checkEndpoint(m.mapping)
    body = new Uint8Array(8)
    body[0] = m.status
    body[1] = m.nat
    putEndpoint(body, 2, m.mapping)
  } else if (m.type === 'go') {
    checkEndpoint({ ip: m.ip, port: 1 })
    body = new Uint8Array(9)
    body.set(m.ip.split('.').map(Number), 0)
    if (m.hint != null) {
      body[4] = 1
      body.set([(m.hint.before >> 8) & 255, m.hint.before & 255, (m.hint.after >> 8) & 255, m.hint.after & 255], 5)
    }
  } else {
    body = new Uint8Array(3)
    body[0] = m.ok ? 1 : 0
    body[1] = (m.port >> 8) & 255
    body[2] = m.port & 255
  }
  const out = new Uint8Array(2 + body.length)
  out[0] = HANDSHAKE_VERSION
  out[1] = TYPE[m.type]
  out.set(body, 2)
  return out
}

/** Decode one punch message; every field is bounded, the length exact. */
export function decodePunchMessage (buf: Uint8Array): PunchMessage {
  checkHeader(buf, 2, 'punch message')
  const b = buf.subarray(2)
  const exact = (n: number): void => { if (b.length !== n) throw new HandshakeError('punch message has the wrong length') }
  const nat = (v: number | undefined): PunchNat => {
    if (v == null || !NATS.has(v)) throw new HandshakeError(`unknown NAT kind ${String(v)}`)
    return v as PunchNat
  }
  switch (buf[1]) {
    case TYPE.offer: {
      const proofLength = b[0] ?? 0
      if (proofLength !== 0 && proofLength !== PROOF_LENGTH) throw new HandshakeError(`bad proof length ${proofLength}`)
      exact(1 + proofLength + PUNCH_TOKEN_BYTES + 1 + 6)
      const m: PunchOffer = { type: 'offer', token: b.slice(1 + proofLength, 1 + proofLength + PUNCH_TOKEN_BYTES), nat: nat(b[1 + proofLength + PUNCH_TOKEN_BYTES]) }
      if (proofLength > 0) m.proof = b.slice(1, 1 + proofLength)
      const mapping = getEndpoint(b, 2 + proofLength + PUNCH_TOKEN_BYTES)
      if (mapping != null) { checkEndpoint(mapping); m.mapping = mapping }
      return m
    }
    case TYPE.answer: {
      exact(8)
      const status = b[0] ?? 0
      if (!STATUSES.has(status)) throw new HandshakeError(`unknown punch status ${status}`)
      const m: PunchAnswer = { type: 'answer', status: status as PunchStatus, nat: nat(b[1]) }
      const mapping = getEndpoint(b, 2)
      if (mapping != null) { checkEndpoint(mapping); m.mapping = mapping }
      return m
    }
    case TYPE.go: {
      exact(9)
      const m: PunchGo = { type: 'go', ip: Array.from(b.subarray(0, 4)).join('.') }
      if (b[4] === 1) m.hint = { before: u16(b, 5), after: u16(b, 7) }
      else if (b[4] !== 0) throw new HandshakeError('bad hint flag')
      return m
    }
    case TYPE.done: {
      exact(3)
      if (b[0] !== 0 && b[0] !== 1) throw new HandshakeError('bad outcome flag')
      return { type: 'done', ok: b[0] === 1, port: u16(b, 1) }
    }
    default:
      throw new HandshakeError(`unknown punch message type ${String(buf[1])}`)
  }
}

/**
 * Who punches how, from the two NAT kinds: the easy side probes, the hard
 * side opens many sockets. `not-needed` when neither is hard (WebRTC's ICE
 * does it), `unsupported` when neither is easy.
 */
export function punchRoles (connector: PunchNat, share: PunchNat): { easy: 'connector' | 'share' } | 'not-needed' | 'unsupported' {
  if (connector === PunchNat.EASY && share === PunchNat.EASY) return 'not-needed'
  if (connector === PunchNat.EASY && share === PunchNat.HARD) return { easy: 'connector' }
  if (connector === PunchNat.HARD && share === PunchNat.EASY) return { easy: 'share' }
  return 'unsupported'
}

/**
 * Whether a side may send punch datagrams to `ip`: an IPv4 literal that is
 * public (not private, loopback, link-local, multicast, broadcast or
 * unspecified). Probes go nowhere else.
 */
export function isPunchTarget (ip: string): boolean {
  if (!isIPv4(ip)) return false
  const first = Number(ip.split('.')[0])
  if (ip === '0.0.0.0' || ip === '255.255.255.255' || first >= 224 || first === 0) return false
  try {
    const ma = multiaddr(`/ip4/${ip}/udp/1`)
    return isPrivate(ma) !== true && !isLoopback(ma) && !isLinkLocal(ma)
  } catch {
    return false
  }
}

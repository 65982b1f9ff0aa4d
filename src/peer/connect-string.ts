import { crc32 } from 'node:zlib'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { base32 } from 'multiformats/bases/base32'
import * as Digest from 'multiformats/hashes/digest'
import * as varint from 'uint8-varint'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Every connect string starts with this. */
export const CONNECT_STRING_PREFIX = 'beam'
/** The payload version this beam writes and reads. */
export const CONNECT_STRING_VERSION = 1
/** Length of the access secret a connect string may carry. */
export const ACCESS_SECRET_LENGTH = 32
/** Longest connect string accepted, in characters. */
export const MAX_CONNECT_STRING_LENGTH = 4096
/** Most addresses a connect string may carry. */
export const MAX_CONNECT_STRING_ADDRS = 32
/** Longest single address, in bytes. */
export const MAX_MULTIADDR_BYTES = 512

const FLAG_SECRET = 0x01
const P2P_CODE = 421

/** What a connect string carries. */
export interface ConnectString {
  peerId: PeerId
  /** Addresses of the share, without a /p2p/ suffix. */
  multiaddrs: Multiaddr[]
  /** The share's access secret; absent for public or allow-list shares. */
  secret?: Uint8Array
}

export type InvalidConnectStringReason = 'prefix' | 'encoding' | 'version' | 'checksum' | 'truncated' | 'peer-id' | 'multiaddr' | 'too-long' | 'flags'

/** A connect string that cannot be decoded; `reason` says which check failed. */
export class InvalidConnectStringError extends Error {
  readonly reason: InvalidConnectStringReason
  constructor (reason: InvalidConnectStringReason, message: string) {
    super(message)
    this.name = 'InvalidConnectStringError'
    this.reason = reason
  }
}

/** True if `text` looks like a connect string rather than a peer id. */
export function looksLikeConnectString (text: string): boolean {
  const t = text.trim().toLowerCase()
  return t.startsWith(CONNECT_STRING_PREFIX) && t.length > 60
}

/**
 * Encode: `beam` + base32 (RFC 4648, lowercase, no padding) of
 * `version | flags | varint len, peer id multihash | [secret 32] |
 *  varint count, (varint len, multiaddr bytes)* | crc32 (big-endian, 4 bytes)`.
 */
export function encodeConnectString (cs: ConnectString): string {
  if (cs.secret != null && cs.secret.length !== ACCESS_SECRET_LENGTH) {
    throw new InvalidConnectStringError('flags', `access secret must be ${ACCESS_SECRET_LENGTH} bytes`)
  }
  const addrs = cs.multiaddrs.map(ma => stripPeer(ma, cs.peerId)).slice(0, MAX_CONNECT_STRING_ADDRS)
  const parts: Uint8Array[] = []
  parts.push(new Uint8Array([CONNECT_STRING_VERSION, cs.secret != null ? FLAG_SECRET : 0]))
  const id = cs.peerId.toMultihash().bytes
  parts.push(varint.encode(id.length), id)
  if (cs.secret != null) parts.push(cs.secret)
  parts.push(varint.encode(addrs.length))
  for (const ma of addrs) {
    if (ma.bytes.length > MAX_MULTIADDR_BYTES) throw new InvalidConnectStringError('multiaddr', `address ${ma.toString()} is too long`)
    parts.push(varint.encode(ma.bytes.length), ma.bytes)
  }
  const body = Buffer.concat(parts)
  const sum = Buffer.alloc(4)
  sum.writeUInt32BE(crc32(body) >>> 0)
  const text = CONNECT_STRING_PREFIX + base32.baseEncode(Buffer.concat([body, sum]))
  if (text.length > MAX_CONNECT_STRING_LENGTH) throw new InvalidConnectStringError('too-long', 'connect string would be too long: too many or too long addresses')
  return text
}

/** Decode a connect string; throws InvalidConnectStringError naming the problem. */
export function decodeConnectString (text: string): ConnectString {
  const t = text.trim().toLowerCase()
  if (t.length > MAX_CONNECT_STRING_LENGTH) throw new InvalidConnectStringError('too-long', `connect string is longer than ${MAX_CONNECT_STRING_LENGTH} characters`)
  if (!t.startsWith(CONNECT_STRING_PREFIX)) throw new InvalidConnectStringError('prefix', `a connect string starts with '${CONNECT_STRING_PREFIX}'`)
  const b32 = t.slice(CONNECT_STRING_PREFIX.length)
  if (!/^[a-z2-7]+$/.test(b32)) throw new InvalidConnectStringError('encoding', 'connect string has characters outside base32 (a-z, 2-7): mistyped?')
  let bytes: Uint8Array
  try {
    bytes = base32.baseDecode(b32)
  } catch {
    throw new InvalidConnectStringError('encoding', 'connect string is not valid base32: mistyped or truncated?')
  }
  if (bytes.length < 1) throw new InvalidConnectStringError('truncated', 'connect string is empty')
  const version = bytes[0] ?? 0
  if (version !== CONNECT_STRING_VERSION) {
    throw new InvalidConnectStringError('version', `connect string has an unknown version ${version} (this beam understands version ${CONNECT_STRING_VERSION}; upgrade beam?)`)
  }
  if (bytes.length < 2 + 4) throw new InvalidConnectStringError('truncated', 'connect string is truncated')
  const body = bytes.subarray(0, bytes.length - 4)
  const sum = Buffer.from(bytes.subarray(bytes.length - 4)).readUInt32BE(0)
  if ((crc32(body) >>> 0) !== sum) throw new InvalidConnectStringError('checksum', 'connect string checksum does not match (typo or truncated copy?)')

  const r = new Reader(body)
  r.u8() // version
  const flags = r.u8()
  if ((flags & ~FLAG_SECRET) !== 0) throw new InvalidConnectStringError('flags', `connect string has unknown flags 0x${flags.toString(16)}`)
  const idBytes = r.bytes(r.varint())
  let peerId: PeerId
  try {
    peerId = peerIdFromMultihash(Digest.decode(idBytes))
  } catch {
    throw new InvalidConnectStringError('peer-id', 'connect string holds no valid peer id')
  }
  const out: ConnectString = { peerId, multiaddrs: [] }
  if ((flags & FLAG_SECRET) !== 0) out.secret = r.bytes(ACCESS_SECRET_LENGTH).slice()
  const count = r.varint()
  if (count > MAX_CONNECT_STRING_ADDRS) throw new InvalidConnectStringError('multiaddr', `connect string lists ${count} addresses (at most ${MAX_CONNECT_STRING_ADDRS})`)
  for (let i = 0; i < count; i++) {
    const len = r.varint()
    if (len > MAX_MULTIADDR_BYTES) throw new InvalidConnectStringError('multiaddr', 'connect string holds an address that is too long')
    const raw = r.bytes(len)
    try {
      const ma = multiaddr(raw.slice())
      ma.toString()
      out.multiaddrs.push(ma)
    } catch {
      throw new InvalidConnectStringError('multiaddr', `connect string holds an invalid address (#${i + 1})`)
    }
  }
  if (!r.done()) throw new InvalidConnectStringError('truncated', 'connect string has trailing bytes')
  return out
}

function stripPeer (ma: Multiaddr, peerId: PeerId): Multiaddr {
  const comps = ma.getComponents()
  const last = comps[comps.length - 1]
  if (last?.code === P2P_CODE && last.value === peerId.toString()) return ma.decapsulateCode(P2P_CODE)
  return ma
}

class Reader {
  private off = 0
  private readonly buf: Uint8Array
  constructor (buf: Uint8Array) { this.buf = buf }
  u8 (): number {
    if (this.off >= this.buf.length) throw new InvalidConnectStringError('truncated', 'connect string is truncated')
    return this.buf[this.off++] ?? 0
  }

  varint (): number {
    let n: number
    try {
      n = varint.decode(this.buf, this.off)
    } catch {
      throw new InvalidConnectStringError('truncated', 'connect string is truncated')
    }
    this.off += varint.encodingLength(n)
    if (this.off > this.buf.length) throw new InvalidConnectStringError('truncated', 'connect string is truncated')
    return n
  }

  bytes (n: number): Uint8Array {
    if (this.off + n > this.buf.length) throw new InvalidConnectStringError('truncated', 'connect string is truncated')
    const b = this.buf.subarray(this.off, this.off + n)
    this.off += n
    return b
  }

  done (): boolean { return this.off === this.buf.length }
}

/**
 * The connect string: what `beam share` prints and `beam connect` takes.
 * The format is specified in docs/connect-string.md; golden vectors live in
 * test/fixtures/connect-strings.json.
 */
import { crc32 } from 'node:zlib'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import { multiaddr, CODE_P2P } from '@multiformats/multiaddr'
import { base32 } from 'multiformats/bases/base32'
import * as Digest from 'multiformats/hashes/digest'
import * as varint from 'uint8-varint'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ACCESS_SECRET_LENGTH } from '../../signaling/index.ts'

/** Every connect string starts with this (decoders accept any case). */
export const CONNECT_STRING_PREFIX = 'beam'
/** The payload version this beam writes and the only one it reads. */
export const CONNECT_STRING_VERSION = 1
/** Length in bytes of the access secret a connect string may carry (defined in signaling/). */
export { ACCESS_SECRET_LENGTH }
/** Longest connect string accepted, in characters, prefix included. */
export const MAX_CONNECT_STRING_LENGTH = 4096
/** Most addresses a connect string may carry. */
export const MAX_CONNECT_STRING_ADDRS = 32
/** Longest single address, in bytes of its binary form. */
export const MAX_MULTIADDR_BYTES = 512

/** Flag bit 0: a 32-byte secret follows the peer id. */
const FLAG_SECRET = 0x01
const CHECKSUM_LENGTH = 4
/**
 * Text peer ids never start with `beam`; a connect string is always over 70
 * characters (78 for Ed25519 with no secret and no address, 72 for RSA).
 */
const MIN_CONNECT_STRING_LENGTH = 60

/** What a connect string carries. */
export interface ConnectString {
  /** The share's peer id. */
  peerId: PeerId
  /** Addresses to try first, without a trailing /p2p/ component. */
  multiaddrs: Multiaddr[]
  /** The share's 32-byte access secret; absent for public or allow-list shares. */
  secret?: Uint8Array
}

/** Which check a connect string failed. */
/** Which check a connect string failed (see docs/connect-string.md). */
export type InvalidConnectStringReason = 'prefix' | 'encoding' | 'version' | 'checksum' | 'truncated' | 'peer-id' | 'multiaddr' | 'too-long' | 'flags'

/** A connect string that cannot be decoded; `reason` says which check failed and `message` says it for a human. */
export class InvalidConnectStringError extends Error {
  /** Which check failed. */
  readonly reason: InvalidConnectStringReason

  constructor (reason: InvalidConnectStringReason, message: string) {
    super(message)
    this.name = 'InvalidConnectStringError'
    this.reason = reason
  }
}

/**
 * Cheap test used to choose between a peer id and a connect string: true if
 * `text` starts with `beam` (any case) and is longer than any text peer id.
 * It does not validate; {@link decodeConnectString} does.
 */
export function looksLikeConnectString (text: string): boolean {
  const t = text.trim()
  return t.length > MIN_CONNECT_STRING_LENGTH && t.slice(0, CONNECT_STRING_PREFIX.length).toLowerCase() === CONNECT_STRING_PREFIX
}

/**
 * Encode a connect string (docs/connect-string.md): `beam` + base32 of
 * `version | flags | peer id | [secret] | addresses | crc32`.
 *
 * A trailing `/p2p/<peerId>` on an address is dropped. Addresses are hints, so
 * rather than fail, the encoder keeps them in order while they fit the limits:
 * duplicates, empty ones and ones over {@link MAX_MULTIADDR_BYTES} bytes are
 * skipped, and it stops at {@link MAX_CONNECT_STRING_ADDRS} addresses or when
 * the text would exceed {@link MAX_CONNECT_STRING_LENGTH} characters.
 *
 * @throws RangeError if `secret` is given and is not 32 bytes long
 */
export function encodeConnectString (cs: ConnectString): string {
  if (cs.secret != null && cs.secret.length !== ACCESS_SECRET_LENGTH) {
    throw new RangeError(`access secret must be ${ACCESS_SECRET_LENGTH} bytes, got ${cs.secret.length}`)
  }
  const id = cs.peerId.toMultihash().bytes
  const head: Uint8Array[] = [
    Uint8Array.of(CONNECT_STRING_VERSION, cs.secret != null ? FLAG_SECRET : 0),
    varint.encode(id.length), id
  ]
  if (cs.secret != null) head.push(cs.secret)

  // the address count is one byte (≤ 32), the checksum four
  let size = byteLength(head) + 1 + CHECKSUM_LENGTH
  const addrs: Uint8Array[] = []
  let count = 0
  const seen = new Set<string>()
  for (const ma of cs.multiaddrs) {
    if (count === MAX_CONNECT_STRING_ADDRS) break
    const bytes = stripPeer(ma, cs.peerId).bytes
    const key = Buffer.from(bytes).toString('hex')
    if (bytes.length === 0 || bytes.length > MAX_MULTIADDR_BYTES || seen.has(key)) continue
    const entry = [varint.encode(bytes.length), bytes]
    if (textLength(size + byteLength(entry)) > MAX_CONNECT_STRING_LENGTH) break
    seen.add(key)
    size += byteLength(entry)
    addrs.push(...entry)
    count++
  }

  const body = Buffer.concat([...head, varint.encode(count), ...addrs])
  const sum = Buffer.alloc(CHECKSUM_LENGTH)
  sum.writeUInt32BE(crc32(body))
  return CONNECT_STRING_PREFIX + base32.baseEncode(Buffer.concat([body, sum]))
}

/**
 * Decode a connect string. Accepts upper case and surrounding white space.
 * Returned addresses carry no /p2p/ suffix.
 *
 * @throws InvalidConnectStringError with a `reason` and a one-line message naming the problem
 */
export function decodeConnectString (text: string): ConnectString {
  const t = text.trim().toLowerCase()
  if (t.length > MAX_CONNECT_STRING_LENGTH) {
    fail('too-long', `connect string is ${t.length} characters long (at most ${MAX_CONNECT_STRING_LENGTH})`)
  }
  if (!t.startsWith(CONNECT_STRING_PREFIX)) {
    fail('prefix', `a connect string starts with '${CONNECT_STRING_PREFIX}' (is this a peer id or something else?)`)
  }
  const b32 = t.slice(CONNECT_STRING_PREFIX.length)
  const badChar = /[^a-z2-7]/.exec(b32)
  if (badChar != null) {
    fail('encoding', `connect string has a character that cannot be in it: '${badChar[0]}' (only a-z and 2-7; mistyped?)`)
  }
  let bytes: Uint8Array
  try {
    bytes = base32.baseDecode(b32)
  } catch {
    fail('encoding', 'connect string is not valid base32 (cut off or mistyped?)')
  }
  if (bytes.length < 2 + CHECKSUM_LENGTH) fail('truncated', 'connect string is too short (truncated copy?)')

  // In every version the last four bytes are the CRC-32 of the rest, so a typo
  // is reported as a typo even where it hits the version byte.
  const body = bytes.subarray(0, bytes.length - CHECKSUM_LENGTH)
  const sum = Buffer.from(bytes.subarray(bytes.length - CHECKSUM_LENGTH)).readUInt32BE(0)
  if (crc32(body) !== sum) fail('checksum', 'connect string checksum does not match (typo or truncated copy?)')

  const r = new Reader(body)
  const version = r.byte()
  if (version !== CONNECT_STRING_VERSION) {
    fail('version', `connect string has an unknown version ${version} (this beam understands version ${CONNECT_STRING_VERSION}; upgrade beam?)`)
  }
  const flags = r.byte()
  if ((flags & ~FLAG_SECRET) !== 0) {
    fail('flags', `connect string has unknown flags 0x${flags.toString(16).padStart(2, '0')} (made by a newer beam?)`)
  }

  let peerId: PeerId
  const idBytes = r.bytes(r.varint())
  try {
    peerId = peerIdFromMultihash(Digest.decode(idBytes))
  } catch {
    fail('peer-id', 'connect string does not hold a valid peer id')
  }
  const cs: ConnectString = { peerId, multiaddrs: [] }
  if ((flags & FLAG_SECRET) !== 0) cs.secret = r.bytes(ACCESS_SECRET_LENGTH).slice()

  const count = r.varint()
  if (count > MAX_CONNECT_STRING_ADDRS) {
    fail('multiaddr', `connect string lists ${count} addresses (at most ${MAX_CONNECT_STRING_ADDRS})`)
  }
  for (let i = 1; i <= count; i++) {
    const len = r.varint()
    if (len > MAX_MULTIADDR_BYTES) fail('multiaddr', `address #${i} in the connect string is ${len} bytes long (at most ${MAX_MULTIADDR_BYTES})`)
    const raw = r.bytes(len).slice()
    let ma: Multiaddr
    try {
      ma = multiaddr(raw)
      if (ma.getComponents().length === 0) throw new Error('empty address')
    } catch {
      fail('multiaddr', `address #${i} in the connect string is not a valid multiaddr`)
    }
    cs.multiaddrs.push(ma)
  }
  if (!r.done()) fail('truncated', 'connect string has bytes left over after the last address')
  return cs
}

function fail (reason: InvalidConnectStringReason, message: string): never {
  throw new InvalidConnectStringError(reason, message)
}

function stripPeer (ma: Multiaddr, peerId: PeerId): Multiaddr {
  const last = ma.getComponents().at(-1)
  return last?.code === CODE_P2P && last.value === peerId.toString() ? ma.decapsulateCode(CODE_P2P) : ma
}

function byteLength (parts: Uint8Array[]): number {
  return parts.reduce((n, p) => n + p.length, 0)
}

/** Characters of a connect string whose payload is `bytes` long. */
function textLength (bytes: number): number {
  return CONNECT_STRING_PREFIX.length + Math.ceil(bytes * 8 / 5)
}

/** Reads the payload front to back; running out of bytes is 'truncated'. */
class Reader {
  private readonly buf: Uint8Array
  private off = 0

  constructor (buf: Uint8Array) {
    this.buf = buf
  }

  byte (): number {
    const b = this.buf[this.off]
    if (b === undefined) fail('truncated', 'connect string is cut short (truncated copy?)')
    this.off++
    return b
  }

  /** Unsigned LEB128; four bytes (up to 2^28 - 1) is far more than any field needs. */
  varint (): number {
    let value = 0
    for (let shift = 0; shift < 28; shift += 7) {
      const b = this.byte()
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
    }
    return fail('truncated', 'connect string has a length field that is too large (damaged copy?)')
  }

  bytes (n: number): Uint8Array {
    if (this.off + n > this.buf.length) fail('truncated', 'connect string is cut short (truncated copy?)')
    const out = this.buf.subarray(this.off, this.off + n)
    this.off += n
    return out
  }

  done (): boolean {
    return this.off === this.buf.length
  }
}

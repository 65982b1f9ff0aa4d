/**
 * I2P destinations: I2P's base64 alphabet (`-` and `~` for `+` and `/`),
 * the public part of a private key blob, and `.b32.i2p` names (base32 of the
 * SHA-256 of the destination: RFC 4648, lower case, unpadded, as multiformats'
 * base32 writes it).
 */
import { createHash } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { I2pAddressError } from './errors.ts'

/** Public key (256) + signing key (128) + certificate type (1) + certificate length (2). */
const DEST_HEADER = 387
const B64_RE = /^[A-Za-z0-9\-~]+={0,2}$/
const B32_RE = /^[a-z2-7]{52}$/

export function fromI2pBase64 (s: string): Buffer {
  if (!B64_RE.test(s)) throw new I2pAddressError('not I2P base64 (letters, digits, - and ~)')
  return Buffer.from(s.replace(/-/g, '+').replace(/~/g, '/'), 'base64')
}

export function toI2pBase64 (b: Uint8Array): string {
  return Buffer.from(b).toString('base64').replace(/\+/g, '-').replace(/\//g, '~')
}

/** Length in bytes of the destination at the start of `bytes` (a destination or a private key blob). */
function destinationLength (bytes: Uint8Array): number {
  if (bytes.length < DEST_HEADER) throw new I2pAddressError(`an I2P destination has at least ${DEST_HEADER} bytes, got ${bytes.length}`)
  const certLen = ((bytes[385] ?? 0) << 8) | (bytes[386] ?? 0)
  const len = DEST_HEADER + certLen
  if (bytes.length < len) throw new I2pAddressError(`I2P destination certificate claims ${certLen} bytes but only ${bytes.length - DEST_HEADER} follow`)
  return len
}

/** Check a public destination in I2P base64 and return it unchanged. */
export function parseDestination (b64: string): string {
  const bytes = fromI2pBase64(b64)
  const len = destinationLength(bytes)
  if (len !== bytes.length) throw new I2pAddressError(`I2P destination has ${bytes.length - len} trailing bytes (a private key?)`)
  return b64
}

/** The public destination (I2P base64) at the start of a private key blob (SAM's DESTINATION= / PRIV=). */
export function publicOfPrivate (privB64: string): string {
  const bytes = fromI2pBase64(privB64)
  return toI2pBase64(bytes.subarray(0, destinationLength(bytes)))
}

/** `<52 base32 chars>.b32.i2p` of a public destination. */
export function b32Of (destB64: string): string {
  const hash = createHash('sha256').update(fromI2pBase64(destB64)).digest()
  return `${base32.baseEncode(hash)}.b32.i2p`
}

/** Accept `abc…xyz` or `abc…xyz.b32.i2p`; return the bare 52-character name. */
export function parseB32 (name: string): string {
  const bare = name.toLowerCase().replace(/\.b32\.i2p$/, '')
  if (!B32_RE.test(bare)) throw new I2pAddressError(`not a .b32.i2p name: ${name.slice(0, 80)}`)
  return bare
}

/**
 * The listen address that means "a new transient destination": 387 zero
 * bytes, which no router would ever hand out. The listener replaces it with
 * its real destination once its SAM session is up.
 */
export const TRANSIENT_DESTINATION = toI2pBase64(new Uint8Array(DEST_HEADER))

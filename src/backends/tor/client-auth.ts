/**
 * Onion client authorization (restricted discovery, Tor's ClientAuthV3): the
 * share encrypts its descriptor to these x25519 keys, so only clients that
 * hold a matching private key can even find the introduction points. It sits
 * under beam's own access control (the connect string's secret).
 */
import { generateKeyPairSync } from 'node:crypto'
import { base32 } from 'multiformats/bases/base32'
import { TorConfigError } from './errors.ts'

/** An x25519 key pair for onion client authorization (restricted discovery). */
export interface ClientAuthKeys {
  /** For the share (`ClientAuthV3`): base32, 52 characters. */
  publicKey: string
  /** For the connector (`ONION_CLIENT_AUTH_ADD … x25519:<this>`): base64, 44 characters. */
  privateKey: string
}

/** A new x25519 key pair in the encodings Tor's control port takes. */
export function generateClientAuthKeys (): ClientAuthKeys {
  const { publicKey, privateKey } = generateKeyPairSync('x25519')
  const pub = publicKey.export({ format: 'jwk' }).x ?? ''
  const priv = privateKey.export({ format: 'jwk' }).d ?? ''
  return {
    publicKey: base32.baseEncode(Buffer.from(pub, 'base64url')).toUpperCase(),
    privateKey: Buffer.from(priv, 'base64url').toString('base64')
  }
}

/** Check a ClientAuthV3 public key (base32 of 32 bytes). */
export function parseClientAuthPublicKey (text: string): string {
  const t = text.trim().replace(/^descriptor:x25519:/i, '')
  if (!/^[A-Za-z2-7]{52}$/.test(t)) throw new TorConfigError(`'${text}' is not an onion client-auth public key (52 base32 characters)`)
  return t.toUpperCase()
}

/** Check a client-auth private key (base64 of 32 bytes). */
export function parseClientAuthPrivateKey (text: string): string {
  const t = text.trim().replace(/^x25519:/i, '')
  if (!/^[A-Za-z0-9+/]{43}=$/.test(t)) throw new TorConfigError('not an onion client-auth private key (44 base64 characters)')
  return t
}

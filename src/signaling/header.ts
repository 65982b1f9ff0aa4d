import { HANDSHAKE_VERSION } from './constants.ts'
import { HandshakeError, UnsupportedVersionError } from './errors.ts'

/**
 * The check every beam signalling message starts with: not empty (`empty
 * <what>`), version byte HANDSHAKE_VERSION (else UnsupportedVersionError),
 * and at least `minLength` bytes (`truncated <what>`).
 */
export function checkHeader (buf: Uint8Array, minLength: number, what: string): void {
  if (buf.length < 1) throw new HandshakeError(`empty ${what}`)
  if (buf[0] !== HANDSHAKE_VERSION) throw new UnsupportedVersionError(buf[0] ?? 0)
  if (buf.length < minLength) throw new HandshakeError(`truncated ${what}`)
}

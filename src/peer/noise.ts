import { noise } from '@chainsafe/libp2p-noise'
import type { NoiseComponents } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, MessageStream, SecuredConnection } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { NATIVE_THRESHOLD, noiseCrypto } from './noise-crypto.ts'

/** Largest Noise transport message on the wire: ciphertext and tag (the Noise spec's 65,535). */
const NOISE_MESSAGE_MAX = 65535
const TAG_LENGTH = 16

/**
 * libp2p's Noise (`@chainsafe/libp2p-noise`) with beam's crypto
 * (noise-crypto.ts) and one change on the receive path: a message that
 * arrived in two socket reads is no longer copied into one buffer before it
 * is decrypted.
 *
 * Why: the library's `EncryptedMessageStream.decrypt` builds a `dst` argument
 * for every message with `chunk.subarray(…)`, which concatenates the pieces
 * when the message spans two reads. A Noise message is 65,537 bytes on the
 * wire and a socket read 65,536, so nearly every bulk message does, and the
 * copy (a fresh 64 KiB allocation each) was ~4.5 % of a receiving `beam
 * connect`'s CPU samples. Only the WASM cipher (messages under
 * NATIVE_THRESHOLD bytes) writes into `dst`; the OpenSSL path that beam's
 * crypto uses for larger messages reads the pieces as a list and ignores it.
 * So beam builds `dst` only for small messages.
 *
 * The message stream is internal to the library: beam replaces the `decrypt`
 * method of each stream that `secureInbound`/`secureOutbound` returns, and
 * only on streams of the 17.x shape (a `decrypt` method and a `handshake`
 * with its own `decrypt`); anything else is returned untouched. Both versions
 * decrypt the same bytes to the same plaintext (test/unit/noise.test.ts), so
 * a message decrypted by the library's method before the swap is fine too.
 * The upstream fix is to build `dst` only for the WASM path.
 */
export function beamNoise (): (components: NoiseComponents) => ConnectionEncrypter {
  const make = noise({ crypto: noiseCrypto })
  return (components) => {
    const encrypter = make(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = async (connection, options) => withListDecrypt(await secureInbound(connection, options))
    encrypter.secureOutbound = async (connection, options) => withListDecrypt(await secureOutbound(connection, options))
    return encrypter
  }
}

type Chunk = Uint8Array | Uint8ArrayList

/** What the library's encrypted message stream looks like from here. */
interface NoiseStreamShape {
  decrypt?: unknown
  handshake?: { decrypt?: unknown }
}

type HandshakeDecrypt = (ciphertext: Chunk, dst?: Uint8Array) => Chunk

function withListDecrypt<S extends SecuredConnection> (secured: S): S {
  listDecrypt(secured.connection)
  return secured
}

/**
 * Gives a Noise message stream the decrypt described above; returns false
 * (and leaves the stream alone) when it is not of the expected shape.
 */
export function listDecrypt (stream: MessageStream): boolean {
  const shape = stream as unknown as NoiseStreamShape
  const handshake = shape.handshake
  if (typeof shape.decrypt !== 'function' || handshake == null || typeof handshake.decrypt !== 'function') return false
  const decryptMessage = (handshake.decrypt as HandshakeDecrypt).bind(handshake)
  shape.decrypt = (chunk: Chunk): Uint8ArrayList => {
    const output = new Uint8ArrayList()
    for (let i = 0; i < chunk.byteLength; i += NOISE_MESSAGE_MAX) {
      const end = Math.min(i + NOISE_MESSAGE_MAX, chunk.byteLength)
      if (end - TAG_LENGTH < i) throw new InvalidNoiseMessageError()
      const encrypted = chunk instanceof Uint8Array ? chunk.subarray(i, end) : chunk.sublist(i, end)
      // the WASM path decrypts in place into dst; it is small there, so the copy is cheap
      const dst = end - i < NATIVE_THRESHOLD ? chunk.subarray(i, end - TAG_LENGTH) : undefined
      output.append(decryptMessage(encrypted, dst))
    }
    return output
  }
  return true
}

/** A Noise transport message shorter than its authentication tag. */
export class InvalidNoiseMessageError extends Error {
  constructor () {
    super('Invalid chunk: a Noise message shorter than its tag')
    this.name = 'InvalidNoiseMessageError'
  }
}

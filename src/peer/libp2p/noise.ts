/**
 * Patch of @chainsafe/libp2p-noise's message stream. Measured on
 * @chainsafe/libp2p-noise 17.0.0 (docs/performance.md, items 3 and 8). Retire
 * it when upstream `EncryptedMessageStream.decrypt` builds `dst` only for the
 * WASM cipher (no copy of a message spanning two reads) and `uint16BEDecode`
 * throws a RangeError made once instead of a new one per read.
 */
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
 * (noise-crypto.ts) and two changes on the receive path, both made to each
 * message stream that `secureInbound`/`secureOutbound` return:
 *
 * 1. A message that arrived in two socket reads is no longer copied into one
 *    buffer before it is decrypted. The library's
 *    `EncryptedMessageStream.decrypt` builds a `dst` argument for every
 *    message with `chunk.subarray(…)`, which concatenates the pieces when the
 *    message spans two reads. A Noise message is 65,537 bytes on the wire and
 *    a socket read 65,536, so nearly every bulk message does, and the copy (a
 *    fresh 64 KiB allocation each) was ~4.5 % of a receiving `beam connect`'s
 *    CPU samples. Only the WASM cipher (messages under NATIVE_THRESHOLD bytes)
 *    writes into `dst`; the OpenSSL path that beam's crypto uses for larger
 *    messages reads the pieces as a list and ignores it. So beam builds `dst`
 *    only for small messages.
 * 2. The length-prefix decoder no longer builds a new RangeError, with its
 *    stack trace, every time it has consumed all it was given. libp2p's
 *    `LengthPrefixedDecoder` learns that the rest of a length prefix has not
 *    arrived yet only from a RangeError thrown by the length decoder, and
 *    Noise's `uint16BEDecode` throws a new one; that happens once per socket
 *    read that ends on a message boundary, which is nearly every read when
 *    messages are small. It was 6–10 % of a tunnel process's busy time under
 *    new-connection load. beam's length decoder throws one RangeError made
 *    once, which the decoder catches just the same.
 *
 * The message stream is internal to the library, so beam only changes
 * streams of the 17.x shape (a `decrypt` method, a `handshake` with its own
 * `decrypt`, a `decoder` with a `lengthDecoder`); anything else is returned
 * untouched. Both versions read the same bytes as the same plaintext
 * (test/unit/noise.test.ts), so a message handled by the library's code
 * before the swap is fine too. Upstream fixes: build `dst` only for the WASM
 * path; let the decoder ask for "not enough bytes yet" without an exception.
 */
export function beamNoise (): (components: NoiseComponents) => ConnectionEncrypter {
  const make = noise({ crypto: noiseCrypto })
  return (components) => {
    const encrypter = make(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = async (connection, options) => withTunedReceive(await secureInbound(connection, options))
    encrypter.secureOutbound = async (connection, options) => withTunedReceive(await secureOutbound(connection, options))
    return encrypter
  }
}

type Chunk = Uint8Array | Uint8ArrayList

/** What the library's encrypted message stream looks like from here. */
interface NoiseStreamShape {
  decrypt?: unknown
  handshake?: { decrypt?: unknown }
  decoder?: { lengthDecoder?: unknown }
}

type HandshakeDecrypt = (ciphertext: Chunk, dst?: Uint8Array) => Chunk

function withTunedReceive<S extends SecuredConnection> (secured: S): S {
  tuneReceivePath(secured.connection)
  return secured
}

/** Thrown by beam's length decoder when fewer than 2 bytes are buffered: made once, no stack trace per throw. */
const NEED_MORE_BYTES = new RangeError('Could not decode int16BE: more bytes needed')

/** Noise's 2-byte big-endian length prefix, read from the decoder's buffer (always a list). */
function uint16Length (data: Uint8Array | Uint8ArrayList): number {
  if (data.byteLength < 2) throw NEED_MORE_BYTES
  return data instanceof Uint8Array ? ((data[0] ?? 0) << 8) | (data[1] ?? 0) : data.getUint16(0)
}

/**
 * Gives a Noise message stream the receive path described above; returns
 * false (and leaves the stream alone) when it is not of the expected shape.
 */
export function tuneReceivePath (stream: MessageStream): boolean {
  const shape = stream as unknown as NoiseStreamShape
  const handshake = shape.handshake
  const decoder = shape.decoder
  if (typeof shape.decrypt !== 'function' || handshake == null || typeof handshake.decrypt !== 'function') return false
  if (decoder == null || typeof decoder.lengthDecoder !== 'function') return false
  decoder.lengthDecoder = uint16Length
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

/**
 * Patch of @chainsafe/libp2p-quic 2.1.1's stream reads. Retire it when the
 * binding reads more than 4 KiB at a time (or lets the read size be set).
 *
 * Why: the binding's JavaScript stream (`QuicStream.readFromStream`, dist/src/
 * stream.js) pulls data with `await nativeStream.read(CHUNK_SIZE)`, and
 * `CHUNK_SIZE` is a constant 4,096. Each call is a napi async task (a zeroed
 * 4 KiB Vec, quinn's `RecvStream::read`, a promise settled on the JS thread),
 * then a `Uint8ArrayList`, a 'message' event and, in a tunnel, a socket write:
 * 262,144 of each per GiB. quinn's read fills the whole buffer from what it
 * has reassembled, so asking for more moves the same bytes in far fewer
 * calls. Measured with two stock nodes (scripts/quic-repro.ts, one stream on
 * 127.0.0.1): the receiver's CPU ~10.2 → ~3.9 s/GiB with 64 KiB reads.
 *
 * How: the native `Stream.prototype.read(maxLen)` is wrapped; each native
 * stream's read size starts at what the binding asks (4 KiB) and doubles
 * while reads come back full, up to {@link QUIC_READ_MAX}, and halves when
 * one comes back less than a quarter full. The binding allocates the whole
 * size for every read (the buffer it returns keeps that capacity until it is
 * collected), so a stream that trickles small messages keeps asking 4 KiB and
 * only a stream with bulk data waiting asks for more.
 *
 * Process-wide: every stream of the binding in this process, once installed.
 */

const INSTALLED = Symbol.for('beam.quicReadSize')

/** The most one read of a QUIC stream asks the binding for (bytes): below glibc's 128 KiB mmap threshold, so a read's buffer is a plain malloc. */
export const QUIC_READ_MAX = 64 * 1024

/** The least one read asks for: the binding's own size (its `CHUNK_SIZE`). */
export const QUIC_READ_MIN = 4096

type NativeRead = (maxLen: number) => Promise<Uint8Array | null | undefined>

interface PatchablePrototype {
  read: NativeRead
  [INSTALLED]?: true
}

/**
 * The next read size of a stream after a read that asked for `asked` bytes
 * and got `got`: double when full, halve when under a quarter full, within
 * [{@link QUIC_READ_MIN}, {@link QUIC_READ_MAX}].
 */
export function nextReadSize (asked: number, got: number): number {
  if (got >= asked) return Math.min(asked * 2, QUIC_READ_MAX)
  if (got < asked / 4) return Math.max(Math.floor(asked / 2), QUIC_READ_MIN)
  return asked
}

/** The binding's napi classes: dist/src/napi.js beside its entry (its exports map lists only '.'). */
async function nativeStreamPrototype (): Promise<PatchablePrototype | undefined> {
  const entry = import.meta.resolve('@chainsafe/libp2p-quic')
  const napi: unknown = await import(new URL('./napi.js', entry).href)
  const stream = (napi as { Stream?: { prototype?: unknown } }).Stream
  const proto = stream?.prototype as Partial<PatchablePrototype> | undefined
  return typeof proto?.read === 'function' ? proto as PatchablePrototype : undefined
}

/**
 * Makes every read of @chainsafe/libp2p-quic's native streams adapt its size
 * (see the module comment). Idempotent; call before the transport is built.
 * A binding without `Stream.prototype.read` (another layout) is left alone.
 */
export async function installQuicReadSize (): Promise<void> {
  const proto = await nativeStreamPrototype()
  if (proto == null || proto[INSTALLED] === true) return
  const original = proto.read
  const sizes = new WeakMap<object, number>()
  proto.read = async function (this: object, maxLen: number) {
    const size = Math.max(maxLen, sizes.get(this) ?? maxLen)
    const chunk = await original.call(this, size)
    if (chunk != null) sizes.set(this, nextReadSize(size, chunk.byteLength))
    return chunk
  }
  proto[INSTALLED] = true
}

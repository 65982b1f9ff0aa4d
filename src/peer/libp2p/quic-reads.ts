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
 * A paused stream is not read. The binding's `sendPause` does nothing ("QUIC
 * handles flow control at the transport level") while its read loop goes on
 * pulling, so the data piles up in the stream's read buffer and the stream is
 * aborted with a StreamBufferError once `maxReadBufferLength` is passed
 * (4 MiB by default, 32 MiB in a tunnel's pipe): a tunnel whose local side
 * stalls while the peer sends (beam pauses the stream then, tunnel/pipe.ts)
 * was reset, and until then its JS heap held what QUIC should have held.
 * Now a read of a paused stream waits for its resume (or its close), quinn
 * keeps the bytes, and QUIC flow control holds the sender, as yamux does.
 * The link from a native stream to its libp2p stream is made when the
 * binding's `QuicStream` constructor starts its read loop, whose first native
 * read is called synchronously.
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

/** What is used of the binding's QuicStream (an @libp2p/utils AbstractStream). */
interface Libp2pStream {
  readStatus: string
  addEventListener: (type: 'close', fn: () => void) => void
  removeEventListener: (type: 'close', fn: () => void) => void
}

interface QuicStreamPrototype {
  readFromStream: (this: Libp2pStream) => Promise<void>
  sendResume: (this: Libp2pStream) => void
}

/** The libp2p stream of each native stream. */
const owners = new WeakMap<object, Libp2pStream>()
/** Resolves the pending read of a paused stream. */
const waiters = new WeakMap<Libp2pStream, () => void>()
/** The libp2p stream whose constructor is starting its read loop. */
let starting: Libp2pStream | undefined

/** Settles when a paused stream resumes or closes. */
async function whilePaused (owner: Libp2pStream): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      waiters.delete(owner)
      owner.removeEventListener('close', done)
      resolve()
    }
    waiters.set(owner, done)
    owner.addEventListener('close', done)
  })
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

/** The binding's QuicStream class (dist/src/stream.js), if it has the expected methods. */
async function quicStreamPrototype (): Promise<QuicStreamPrototype | undefined> {
  const entry = import.meta.resolve('@chainsafe/libp2p-quic')
  const mod: unknown = await import(new URL('./stream.js', entry).href)
  const proto = (mod as { QuicStream?: { prototype?: unknown } }).QuicStream?.prototype as Partial<QuicStreamPrototype> | undefined
  return typeof proto?.readFromStream === 'function' && typeof proto.sendResume === 'function' ? proto as QuicStreamPrototype : undefined
}

/**
 * Makes every read of @chainsafe/libp2p-quic's native streams adapt its size
 * and wait while its stream is paused (see the module comment). Idempotent;
 * call before the transport is built. A binding of another layout (no
 * `Stream.prototype.read`, no `QuicStream.readFromStream`) is left alone, in
 * whole or in that part.
 */
export async function installQuicReadSize (): Promise<void> {
  const proto = await nativeStreamPrototype()
  if (proto == null || proto[INSTALLED] === true) return
  const streams = await quicStreamPrototype()
  if (streams != null) {
    const readFromStream = streams.readFromStream
    streams.readFromStream = function (this: Libp2pStream) {
      starting = this
      try {
        return readFromStream.call(this)
      } finally {
        starting = undefined
      }
    }
    const sendResume = streams.sendResume
    streams.sendResume = function (this: Libp2pStream) {
      sendResume.call(this)
      waiters.get(this)?.()
    }
  }
  const original = proto.read
  const sizes = new WeakMap<object, number>()
  proto.read = async function (this: object, maxLen: number) {
    if (starting != null) {
      owners.set(this, starting)
      starting = undefined
    }
    const owner = owners.get(this)
    if (owner?.readStatus === 'paused') await whilePaused(owner)
    const size = Math.max(maxLen, sizes.get(this) ?? maxLen)
    const chunk = await original.call(this, size)
    if (chunk != null) sizes.set(this, nextReadSize(size, chunk.byteLength))
    return chunk
  }
  proto[INSTALLED] = true
}

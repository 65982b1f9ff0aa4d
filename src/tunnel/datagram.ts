import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * Largest datagram a datagram tunnel carries, in bytes: the largest UDP
 * payload over IPv4 (65,535 − 8 − 20), which also fits the 2-byte frame
 * length. Larger ones (possible only over IPv6 jumbograms) are dropped.
 */
export const MAX_DATAGRAM = 65_507

/** How long a datagram tunnel may carry nothing either way before it is closed, in ms. */
export const DEFAULT_DATAGRAM_IDLE_TIMEOUT = 60_000

/** Byte counts of one finished datagram tunnel. */
export interface DatagramResult {
  /** Datagrams sent into the stream. */
  sent: number
  /** Datagrams received from the stream. */
  received: number
  /** Payload bytes of the datagrams sent. */
  sentBytes: number
  /** Payload bytes of the datagrams received. */
  receivedBytes: number
  /** Datagrams dropped on the way in: the stream was full (backpressure) or closed, or one was too large. */
  dropped: number
  /** Set when it ended by an error or a reset (not by the idle timeout or a close). */
  error?: Error
}

/** Options of a {@link DatagramStream}. */
export interface DatagramStreamOptions {
  /** Gets each datagram that arrives from the stream. */
  deliver: (datagram: Uint8Array) => void
  /** Close after this many ms with no datagram either way. @default 60000 */
  idleTimeout?: number
  /** Aborting resets the stream. @default unset */
  signal?: AbortSignal
}

/**
 * Datagrams over a libp2p stream, each framed as `length u16be | payload`.
 * The stream keeps them in order and loses none; what UDP would lose is lost
 * before it: a datagram that finds the stream pushing back (its send buffer
 * full) is dropped, as a full router queue would, instead of being queued
 * without bound. A frame that claims more than {@link MAX_DATAGRAM} bytes
 * resets the stream (a peer that breaks the framing).
 */
export class DatagramStream {
  /** Resolves once the stream has ended, with the counts. */
  readonly done: Promise<DatagramResult>
  private readonly stream: Stream
  private readonly deliver: (datagram: Uint8Array) => void
  private readonly idleTimeout: number
  private readonly result: DatagramResult = { sent: 0, received: 0, sentBytes: 0, receivedBytes: 0, dropped: 0 }
  private readonly buffer = new Uint8ArrayList()
  private readonly resolve: (r: DatagramResult) => void
  private readonly signal: AbortSignal | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private full = false
  private finished = false

  constructor (stream: Stream, options: DatagramStreamOptions) {
    this.stream = stream
    this.deliver = options.deliver
    this.idleTimeout = options.idleTimeout ?? DEFAULT_DATAGRAM_IDLE_TIMEOUT
    this.signal = options.signal
    const { promise, resolve } = Promise.withResolvers<DatagramResult>()
    this.done = promise
    this.resolve = resolve
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('close', this.onClose)
    stream.addEventListener('remoteCloseWrite', this.onRemoteEnd)
    stream.addEventListener('drain', this.onDrain)
    this.signal?.addEventListener('abort', this.onAbort, { once: true })
    if (this.signal?.aborted === true) this.onAbort()
    else if (stream.status !== 'open') this.finish()
    else {
      if (stream.readStatus === 'paused') stream.resume()
      this.touch()
    }
  }

  /** The counts so far (kept current while datagrams flow; read-only). */
  get progress (): Readonly<DatagramResult> { return this.result }

  /** Send one datagram; false when it was dropped (too large, stream full or closed). */
  send (datagram: Uint8Array): boolean {
    if (this.finished || this.stream.writeStatus !== 'writable' || this.full || datagram.byteLength > MAX_DATAGRAM) {
      this.result.dropped++
      return false
    }
    const header = new Uint8Array(2)
    header[0] = datagram.byteLength >> 8
    header[1] = datagram.byteLength & 0xff
    this.result.sent++
    this.result.sentBytes += datagram.byteLength
    this.touch()
    try {
      if (!this.stream.send(new Uint8ArrayList(header, datagram))) this.full = true
    } catch (err) {
      this.fail(err as Error)
    }
    return true
  }

  /** Close gracefully (both ways). Idempotent. */
  close (): void {
    if (this.finished) return
    if (this.stream.status === 'open') {
      this.stream.close().catch((err: Error) => { this.stream.abort(err) })
    }
    this.finish()
  }

  private touch (): void {
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.close() }, this.idleTimeout)
    this.timer.unref?.()
  }

  private readonly onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
    this.buffer.append(evt.data)
    while (this.buffer.byteLength >= 2) {
      const length = this.buffer.getUint16(0)
      if (length > MAX_DATAGRAM) {
        this.fail(new Error(`datagram frame of ${length} bytes exceeds ${MAX_DATAGRAM}`))
        return
      }
      if (this.buffer.byteLength < 2 + length) break
      const datagram = this.buffer.subarray(2, 2 + length)
      this.buffer.consume(2 + length)
      this.result.received++
      this.result.receivedBytes += length
      this.touch()
      this.deliver(datagram)
    }
  }

  private readonly onDrain = (): void => { this.full = false }
  /** The other side is done sending: a datagram tunnel then ends (its replies have no one to go to). */
  private readonly onRemoteEnd = (): void => { this.close() }
  private readonly onClose = (evt: { error?: Error }): void => {
    if (evt.error != null) this.result.error ??= evt.error
    this.finish()
  }

  private readonly onAbort = (): void => { this.fail(new Error('datagram tunnel aborted')) }

  private fail (err: Error): void {
    this.result.error ??= err
    if (this.stream.status === 'open') this.stream.abort(err)
    this.finish()
  }

  private finish (): void {
    if (this.finished) return
    this.finished = true
    if (this.timer != null) clearTimeout(this.timer)
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('close', this.onClose)
    this.stream.removeEventListener('remoteCloseWrite', this.onRemoteEnd)
    this.stream.removeEventListener('drain', this.onDrain)
    this.signal?.removeEventListener('abort', this.onAbort)
    this.resolve(this.result)
  }
}

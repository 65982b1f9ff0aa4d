import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_MAX_READ_BUFFER, ReadPauser, TunnelTruncatedError } from '../tunnel/index.ts'

/**
 * Keep-alive tunnel streams to one share, used straight from libp2p: a
 * visitor request takes a free stream (on which the share already holds a
 * connection to its service) or opens a new one, and the stream goes back
 * to the pool once the answer is complete and the share's service keeps the
 * connection. This saves a stream open, a tunnel handshake and a TCP connect
 * at the share per request, as a reverse proxy's keep-alive upstream does.
 *
 * Each stream carries one request at a time (no pipelining). The pool
 * reports what arrives to the exchange that holds the stream; bytes or an
 * end on a free stream close it.
 */

/**
 * Streams kept open and idle per share, at most, when the gateway sets no
 * cap on requests in flight (else the cap is that number). Answers complete
 * in bursts (many in one Noise message), so every stream in flight can be
 * free at once for a moment: a smaller cap closed streams that the next
 * requests then opened again, a stream, a handshake and a TCP connect at the
 * share each (6,326 of them in 5 s at 64 concurrent visitors with a cap of
 * 32). Idle streams still close after their idle time. @default 256
 */
export const DEFAULT_FREE_STREAMS = 256
/** How long a free stream is kept, at most (shorter when the service's Keep-Alive header says so). @default 30000 */
export const DEFAULT_IDLE_STREAM_MS = 30_000
/** Node's margin under a service's keep-alive timeout: a stream is dropped this long before the service would close it. */
const KEEP_ALIVE_MARGIN_MS = 1000

/** What an exchange gets from the stream it holds. */
export interface UpstreamUser {
  /** Bytes from the share. */
  data: (data: Uint8Array) => void
  /** The share finished sending (cleanly). */
  end: () => void
  /** The stream broke or was closed before the share finished. */
  fail: (err: Error) => void
  /** The stream can take more bytes. */
  drain: () => void
}

/** One tunnel stream that carries requests one after another. */
export class Upstream {
  readonly stream: Stream
  /** Pauses the share's bytes while the visitor cannot take more. */
  readonly reads: ReadPauser
  /** The exchange that holds the stream; undefined while it is free. */
  user: UpstreamUser | undefined
  private finished = false
  private remoteFinished: boolean
  private timer: NodeJS.Timeout | undefined
  private readonly gone: (up: Upstream) => void

  constructor (stream: Stream, gone: (up: Upstream) => void) {
    this.stream = stream
    this.gone = gone
    this.reads = new ReadPauser(stream)
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, DEFAULT_MAX_READ_BUFFER)
    this.remoteFinished = stream.remoteWriteStatus === 'closed' && stream.status === 'open'
    stream.addEventListener('message', (evt: { data: Uint8Array | Uint8ArrayList }) => {
      const user = this.user
      // a share sends nothing unasked: bytes on a free stream mean it is out of step
      if (user == null) { this.destroy(new Error('the share sent bytes on an idle stream')); return }
      const d = evt.data
      if (d instanceof Uint8Array) user.data(d)
      else for (const buf of d) { if (this.user !== user) break; user.data(buf) }
    })
    stream.addEventListener('remoteCloseWrite', () => { this.remoteFinished = true })
    // 'end' comes after the bytes a paused stream buffered; 'close' may come before them
    stream.addEventListener('end', () => { this.ended() })
    stream.addEventListener('close', (evt: { error?: Error }) => {
      if (evt.error != null) this.failed(evt.error)
      else if (!this.remoteFinished) this.failed(new TunnelTruncatedError('the connection closed before the share finished sending'))
      else if (stream.readBufferLength === 0) this.ended()
      if (this.timer != null) clearTimeout(this.timer)
      this.gone(this)
    })
    stream.addEventListener('drain', () => { this.user?.drain() })
  }

  /** Whether a request can be sent on the stream now. */
  get usable (): boolean {
    return !this.finished && !this.remoteFinished && this.stream.status === 'open' && this.stream.writeStatus === 'writable'
  }

  /** Send bytes; false when the stream's buffer is full (wait for the user's `drain`). Throws when the stream cannot be written. */
  send (data: Uint8Array | Uint8ArrayList): boolean {
    return this.stream.send(data)
  }

  /** Close the stream at once (a reset): an exchange that broke off, or a stream the pool drops. */
  destroy (err?: Error): void {
    if (this.stream.status === 'open') this.stream.abort(err ?? new Error('gateway closed the stream'))
    this.failed(err ?? new Error('gateway closed the stream'))
  }

  /** Close an idle stream politely: the share closes its connection to the service. */
  closeIdle (): void {
    this.finished = true
    if (this.timer != null) clearTimeout(this.timer)
    if (this.stream.status === 'open') this.stream.close().catch(() => { if (this.stream.status === 'open') this.stream.abort(new Error('gateway closed the stream')) })
  }

  /** Arm the idle timer of a free stream. */
  idle (ms: number, onIdle: () => void): void {
    this.busy()
    this.timer = setTimeout(onIdle, ms)
    this.timer.unref()
  }

  /** Stop the idle timer: the stream carries a request again. */
  busy (): void {
    if (this.timer != null) { clearTimeout(this.timer); this.timer = undefined }
  }

  private ended (): void {
    if (this.finished) return
    this.finished = true
    const user = this.user
    if (user == null) { this.closeIdle(); return }
    if (this.remoteFinished) user.end()
    else user.fail(new TunnelTruncatedError('the connection closed before the share finished sending'))
  }

  private failed (err: Error): void {
    if (this.finished) return
    this.finished = true
    this.user?.fail(err)
  }
}

/** Options of an {@link UpstreamPool}. */
export interface UpstreamPoolOptions {
  /** Free streams kept, at most. @default {@link DEFAULT_FREE_STREAMS} */
  maxFree?: number
  /** Longest time a free stream is kept. @default {@link DEFAULT_IDLE_STREAM_MS} */
  idleMs?: number
}

/** The keep-alive streams to one share. */
export class UpstreamPool {
  private readonly open: () => Promise<Stream>
  private readonly maxFree: number
  private readonly idleMs: number
  /** Free streams, the most recently used last (taken first: a warm stream, whose service connection is least likely to have timed out). */
  private readonly free: Upstream[] = []
  private readonly all = new Set<Upstream>()
  private closed = false

  constructor (open: () => Promise<Stream>, options: UpstreamPoolOptions = {}) {
    this.open = open
    this.maxFree = options.maxFree ?? DEFAULT_FREE_STREAMS
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_STREAM_MS
  }

  /** A free stream, or a new one. `reused` tells which: a request that fails on a reused stream may be sent again. */
  async acquire (): Promise<{ up: Upstream, reused: boolean }> {
    for (;;) {
      const up = this.free.pop()
      if (up == null) break
      if (!up.usable) continue
      up.busy()
      return { up, reused: true }
    }
    if (this.closed) throw new Error('the gateway closed its streams to this share')
    const stream = await this.open()
    const up = new Upstream(stream, gone => { this.forget(gone) })
    this.all.add(up)
    if (this.closed) { up.destroy(); throw new Error('the gateway closed its streams to this share') }
    return { up, reused: false }
  }

  /**
   * Give a stream back after a complete exchange. `keepAliveMs` is the
   * service's own idle timeout, when it said (the stream is dropped a second
   * before the service would close its connection).
   */
  release (up: Upstream, keepAliveMs?: number): void {
    up.user = undefined
    // an answer that filled its visitor's buffer to the end leaves the stream paused: a free stream reads
    // (the next answer, or the share's close, must be seen)
    up.reads.resume(() => false)
    if (this.closed || !up.usable || this.free.length >= this.maxFree) { up.closeIdle(); return }
    const ms = keepAliveMs != null ? Math.min(this.idleMs, keepAliveMs - KEEP_ALIVE_MARGIN_MS) : this.idleMs
    if (ms <= 0) { up.closeIdle(); return }
    this.free.push(up)
    up.idle(ms, () => { this.forget(up); up.closeIdle() })
  }

  /** Close every stream, free or in use (the share went offline or the gateway stops). */
  destroy (): void {
    this.closed = true
    for (const up of [...this.all]) up.destroy(new Error('the gateway closed its streams to this share'))
    this.free.length = 0
    this.all.clear()
  }

  private forget (up: Upstream): void {
    this.all.delete(up)
    const i = this.free.indexOf(up)
    if (i >= 0) this.free.splice(i, 1)
  }
}

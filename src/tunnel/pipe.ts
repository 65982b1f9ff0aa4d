import type { Socket } from 'node:net'
import type { MessageStreamEvents, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { TunnelTruncatedError } from './errors.ts'
import { ReadPauser } from './read-pauser.ts'
import { atTurnEnd } from './turn-end.ts'

/** Byte counts of one finished pipe. */
export interface PipeResult {
  /** Bytes read from the socket and sent into the stream. */
  sent: number
  /** Bytes received from the stream and written to the socket. */
  received: number
  /** Set when the pipe ended by an error or a reset on either side. */
  error?: Error
  /**
   * True when the local side reset its socket before anything else failed:
   * the socket's first error was ECONNRESET (its RST arrived) or EPIPE (a
   * write met it). The local program chose to end the connection abruptly,
   * as load tools (wrk, ab) and `socket.resetAndDestroy()` do; `error` holds
   * that socket error, and the stream was reset as always.
   */
  localReset?: boolean
}

/** Socket error codes by which the local side's own reset shows. */
const LOCAL_RESET_CODES = new Set(['ECONNRESET', 'EPIPE'])

export interface PipeOptions {
  /** Aborting resets the stream and destroys the socket. */
  signal?: AbortSignal
  /**
   * Largest number of bytes a paused stream may hold before it is reset. Must
   * be at least the muxer's largest receive window.
   * @default 32 MiB
   */
  maxReadBuffer?: number
  /**
   * The object the pipe counts into while bytes flow (its `sent` and
   * `received` stay current, for live statistics); the call resolves to it.
   * @default a new one
   */
  counts?: PipeResult
}

export const DEFAULT_MAX_READ_BUFFER = 32 * 1024 * 1024

/**
 * Reset a local socket: a TCP socket gets an RST (its peer sees ECONNRESET,
 * not a clean end). A unix socket has no reset (Node's resetAndDestroy
 * throws ERR_INVALID_HANDLE_TYPE for it): it is destroyed, closing both
 * ways at once, which is as close as it comes.
 */
export function resetSocket (socket: Socket): void {
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

/**
 * Join a TCP socket and a libp2p stream, both directions, until both are done.
 *
 * - Bytes are passed on as they come, never copied into a larger buffer; what
 *   one poll of the event loop reads from the socket is sent as one message.
 * - Backpressure both ways: a full stream pauses the socket until 'drain'; a
 *   full socket pauses the stream (the muxer then stops granting window).
 * - Half-close both ways: socket EOF closes the stream's write side; the
 *   stream's end (after all its data) ends the socket's write side.
 * - An error or reset on one side resets the other at once (TCP RST on the
 *   socket, stream reset on the stream): it is never passed on as a clean end.
 * - The socket sees a clean end only after the remote's FIN and every byte
 *   before it. A stream that closes while paused with data still buffered
 *   (its remote sent FIN after we had sent ours) delivers that data first; a
 *   stream whose connection went away without the remote's FIN is truncated,
 *   and the socket is reset ({@link TunnelTruncatedError}).
 * - Bytes the local side sends after the stream can no longer carry them
 *   reset the socket instead of vanishing.
 *
 * The socket must have been created with `allowHalfOpen: true`.
 * Resolves (never rejects) once both sides are closed.
 */
export async function pipeSocketStream (socket: Socket, stream: Stream, options: PipeOptions = {}): Promise<PipeResult> {
  const result: PipeResult = options.counts ?? { sent: 0, received: 0 }
  const { promise, resolve } = Promise.withResolvers<PipeResult>()
  let socketClosed = socket.destroyed
  let streamClosed = stream.status !== 'open'
  let streamEnded = false
  // the remote's FIN: its 'remoteCloseWrite' event. A stream whose transport
  // closes is also ended and closed without error, FIN or not (@libp2p/utils
  // 7.4.1 onTransportClosed); only this tells a finished stream from a cut one
  let remoteFinished = stream.remoteWriteStatus === 'closed' && stream.status === 'open'
  let finished = false
  let waitingForDrain = false

  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, options.maxReadBuffer ?? DEFAULT_MAX_READ_BUFFER)

  const fail = (err: Error): void => {
    result.error ??= err
    // a reset stays a reset: the local side must not mistake it for a clean end
    if (!socket.destroyed) resetSocket(socket)
    if (stream.status === 'open') stream.abort(err)
  }

  const maybeFinish = (): void => {
    if (finished || !socketClosed || !streamClosed) return
    finished = true
    cleanup()
    resolve(result)
  }

  // socket -> stream. The chunks one poll of the event loop reads (up to 32
  // of 64 KiB) go to the stream as one send, so the muxer frames and encrypts
  // them as one message instead of one per read: a large part of a tunnel's
  // CPU time is per frame, not per byte. The batch is sent before the loop
  // waits again, so nothing is held back.
  let pending: Buffer[] = []
  let flushScheduled = false
  const onSocketData = (chunk: Buffer): void => {
    result.sent += chunk.byteLength
    pending.push(chunk)
    if (!flushScheduled) {
      flushScheduled = true
      atTurnEnd(flushToStream)
    }
  }
  const flushToStream = (): void => {
    flushScheduled = false
    if (pending.length === 0) return
    // a list, not a copy: Noise cuts it into messages that may span reads, and
    // beam's TCP transport writes each batch of pieces in one writev
    // (src/peer/libp2p/batched-tcp.ts). Copying into one buffer cost the sender ~23 %
    // of its CPU per GiB (docs/performance.md, item 3).
    const batch = pending.length === 1 ? pending[0] as Buffer : new Uint8ArrayList(...pending)
    pending = []
    // after a reset, an abort or a close of the connection nobody receives
    // these bytes: the local side must learn it (a TCP peer that closed
    // answers data with RST), not have them vanish
    if (stream.writeStatus !== 'writable') {
      if (!finished) fail(new TunnelTruncatedError(`the stream is ${stream.status} and cannot carry ${batch.byteLength} more bytes from the local side`))
      return
    }
    let ok: boolean
    try {
      ok = stream.send(batch)
    } catch (err) {
      fail(err as Error)
      return
    }
    if (!ok && !waitingForDrain) {
      // Not stream.onDrain(): in @libp2p/utils 7.4.1 its promise is created once
      // and never reset, so after the first drain it resolves at once and the
      // socket would be read without bound. The 'drain' event is reliable.
      waitingForDrain = true
      socket.pause()
      stream.addEventListener('drain', onStreamDrain, { once: true })
    }
  }
  const onStreamDrain = (): void => {
    waitingForDrain = false
    if (!socket.destroyed) socket.resume()
  }
  const onSocketEnd = (): void => {
    // 'end' comes after the last 'data': what is still batched goes first
    flushToStream()
    // the local side half-closed: pass the FIN on once queued data is out
    if (stream.writeStatus === 'writable') {
      stream.close().catch((err: Error) => { fail(err) })
    }
  }
  const onSocketError = (err: NodeJS.ErrnoException): void => {
    if (result.error == null && err.code != null && LOCAL_RESET_CODES.has(err.code)) result.localReset = true
    fail(err)
  }
  const onSocketClose = (): void => {
    socketClosed = true
    if (!streamEnded && stream.status === 'open') {
      // the socket is gone but the remote may still send: nothing can take it
      fail(result.error ?? new Error('local socket closed before the stream ended'))
    }
    maybeFinish()
  }

  // stream -> socket
  // Messages that arrive in one turn of the event loop (QUIC and WebRTC hand
  // over many small ones; yamux one per frame) are corked and reach the socket
  // as one writev at the end of the turn instead of a write each.
  let corked = false
  const uncork = (): void => {
    corked = false
    if (!socket.destroyed) socket.uncork()
  }
  let endAfterBuffered = false
  const onStreamMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
    const data = evt.data
    let ok = true
    if (!corked) {
      corked = true
      socket.cork()
      atTurnEnd(uncork)
    }
    result.received += data.byteLength
    if (data instanceof Uint8Array) ok = socket.write(data)
    else for (const buf of data) ok = socket.write(buf)
    if (endAfterBuffered && stream.readBufferLength === 0) {
      endAfterBuffered = false
      onStreamEnd()
      return
    }
    if (!ok) pauseStream()
  }
  // a pause asked for while the stream's resume() dispatches is applied after
  // it (see ReadPauser: the muxer's resume would otherwise undo it)
  const reads = new ReadPauser(stream)
  const pauseStream = (): void => { reads.pause() }
  const onSocketDrain = (): void => { reads.resume(() => socket.writableNeedDrain) }
  const onRemoteCloseWrite = (): void => { remoteFinished = true }
  const onStreamEnd = (): void => {
    streamEnded = true
    // a reset also ends the readable side: that must reach the socket as a
    // reset (from the 'close' handler), never as a FIN
    if (stream.status === 'reset' || stream.status === 'aborted') return
    if (!remoteFinished) {
      fail(new TunnelTruncatedError(`the connection closed before the peer finished sending (${result.received} bytes received)`))
      return
    }
    if (!socket.destroyed && !socket.writableEnded) socket.end()
  }
  const onStreamClose = (evt: { error?: Error }): void => {
    streamClosed = true
    if (evt.error != null) {
      fail(evt.error)
    } else if (!remoteFinished) {
      fail(new TunnelTruncatedError(`the connection closed before the peer finished sending (${result.received} bytes received)`))
    } else if (!streamEnded) {
      // closed while paused with data still buffered: resume() delivers it
      // and then 'end' ends the socket (ending it now would drop that data)
    } else if (!socket.destroyed && !socket.writableEnded) {
      socket.end()
    }
    maybeFinish()
  }

  const onAbort = (): void => { fail(new Error('tunnel aborted')) }

  // every listener but the socket's 'error' one, which stays: a late error
  // must not become an uncaught exception
  const socketListeners: Array<[string, Parameters<NodeJS.EventEmitter['on']>[1]]> = [
    ['data', onSocketData], ['end', onSocketEnd], ['drain', onSocketDrain], ['close', onSocketClose]
  ]
  const eachStreamListener = (apply: <K extends keyof MessageStreamEvents>(name: K, fn: (evt: MessageStreamEvents[K]) => void) => void): void => {
    apply('message', onStreamMessage)
    apply('remoteCloseWrite', onRemoteCloseWrite)
    apply('end', onStreamEnd)
    apply('close', onStreamClose)
  }
  const cleanup = (): void => {
    for (const [name, fn] of socketListeners) socket.off(name, fn)
    eachStreamListener((name, fn) => { stream.removeEventListener(name, fn) })
    stream.removeEventListener('drain', onStreamDrain)
    options.signal?.removeEventListener('abort', onAbort)
  }

  socket.on('error', onSocketError)
  for (const [name, fn] of socketListeners) socket.on(name, fn)
  eachStreamListener((name, fn) => { stream.addEventListener(name, fn) })
  options.signal?.addEventListener('abort', onAbort)

  if (options.signal?.aborted === true) onAbort()
  // The stream can have ended before the pipe began while bytes before its
  // end were held by the handshake's reader, which pushed them back on
  // (unwrap → unshift): the stream dispatches them on a microtask and does not
  // dispatch 'end' again, so the end is passed on only after them. Both sides
  // see this when the other sends its first data and its FIN right behind the
  // handshake (an early request from a client that half-closed; a short answer
  // from a service that closes).
  if (stream.readableEnded) {
    if (stream.readBufferLength === 0) onStreamEnd()
    else endAfterBuffered = true
  }
  // a caller that read the socket's first bytes itself (beam connect sends
  // them with the tunnel request) may have drained it up to an EOF it had
  // already received: 'end' was emitted before the pipe listened for it
  if (socket.readableEnded) onSocketEnd()
  if (socket.isPaused()) socket.resume()
  if (stream.readStatus === 'paused') stream.resume()
  if (socket.destroyed) onSocketClose()
  if (streamClosed) maybeFinish()

  return promise
}

import { Duplex } from 'node:stream'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_MAX_READ_BUFFER } from './pipe.ts'
import { TunnelTruncatedError } from './errors.ts'
import { ReadPauser } from './read-pauser.ts'

/**
 * A libp2p stream as a Node.js Duplex, for app protocols (`node.open`,
 * `node.handle`). Backpressure both ways: a Duplex whose readable buffer is
 * full pauses the stream (the muxer stops granting window); `send()` answering
 * false holds the write callback until the stream drains. `end()` closes the
 * write side (half-close); the stream's end ends the readable side; a reset or
 * error destroys the Duplex with that error; `destroy()` resets the stream.
 */
export function streamToDuplex (stream: Stream): Duplex {
  stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, DEFAULT_MAX_READ_BUFFER)
  let ended = false
  // a pause asked for while resume() dispatches is applied after it (see
  // ReadPauser: the muxer's resume would otherwise undo it)
  const reads = new ReadPauser(stream)
  const pause = (): void => { reads.pause() }
  const duplex = new Duplex({
    allowHalfOpen: true,
    read () {
      reads.resume(() => duplex.readableLength >= duplex.readableHighWaterMark)
    },
    write (chunk: Buffer, _encoding, callback) {
      try {
        if (stream.send(chunk)) callback()
        else {
          const onDrain = (): void => { stream.removeEventListener('close', onClose); callback() }
          const onClose = (): void => { stream.removeEventListener('drain', onDrain); callback(new Error('stream closed while writing')) }
          stream.addEventListener('drain', onDrain, { once: true })
          stream.addEventListener('close', onClose, { once: true })
        }
      } catch (err) {
        callback(err as Error)
      }
    },
    final (callback) {
      if (stream.writeStatus !== 'writable') { callback(); return }
      stream.close().then(() => { callback() }, (err: Error) => { callback(err) })
    },
    destroy (err, callback) {
      if (stream.status === 'open') stream.abort(err ?? new Error('stream destroyed'))
      callback(err)
    }
  })
  stream.addEventListener('message', (evt: { data: Uint8Array | Uint8ArrayList }) => {
    const data = evt.data
    let more = true
    if (data instanceof Uint8Array) more = duplex.push(data)
    else for (const buf of data) more = duplex.push(buf)
    if (!more) pause()
  })
  // the remote's FIN (see pipeSocketStream): a stream whose connection closes
  // is ended without error too, and that must not look like a clean end
  let remoteFinished = stream.remoteWriteStatus === 'closed' && stream.status === 'open'
  const truncated = (): TunnelTruncatedError => new TunnelTruncatedError('the connection closed before the peer finished sending')
  stream.addEventListener('remoteCloseWrite', () => { remoteFinished = true })
  stream.addEventListener('end', () => {
    if (ended) return
    ended = true
    if (stream.status === 'reset' || stream.status === 'aborted') return
    if (remoteFinished) duplex.push(null)
    else duplex.destroy(truncated())
  })
  stream.addEventListener('close', (evt: { error?: Error }) => {
    if (evt.error != null) duplex.destroy(evt.error)
    else if (!remoteFinished) { if (!ended) { ended = true; duplex.destroy(truncated()) } }
    // a clean close may come while a paused stream still buffers data: the
    // stream delivers it on resume() and then emits 'end', which ends the Duplex
    else if (!ended && stream.readBufferLength === 0) { ended = true; duplex.push(null) }
  })
  return duplex
}

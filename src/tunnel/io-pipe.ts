import type { Readable, Writable } from 'node:stream'
import type { Stream } from '@libp2p/interface'
import { streamToDuplex } from './duplex.ts'
import type { PipeResult } from './pipe.ts'

/** Options of {@link pipeStreamIo}. */
export interface IoPipeOptions {
  /** Aborting resets the stream and stops reading the input. @default unset */
  signal?: AbortSignal
  /**
   * The object the pipe counts into while bytes flow (its `sent` and
   * `received` stay current, for live statistics); the call resolves to it.
   * @default a new one
   */
  counts?: PipeResult
}

/**
 * Join a libp2p stream to a pair of byte streams that are not one socket
 * (a process's standard input and output): `input` → stream, stream →
 * `output`, with backpressure both ways (through {@link streamToDuplex}).
 *
 * - The input's end is passed on as a half-close: the stream's write side
 *   closes and what the remote still sends keeps arriving.
 * - The remote's end (its FIN after all its data) ends `output`; the pipe is
 *   then done: the input is no longer read and the stream's write side is
 *   closed (as a netcat that quits at the remote's end).
 * - A reset or a cut connection (no FIN) is the result's `error`; so is an
 *   error writing `output` (its reader went away), which resets the stream.
 *
 * Resolves (never rejects) once the remote's data is written out or the pipe
 * failed. The input and output are left open (they may be the process's
 * own), only unpiped.
 */
export async function pipeStreamIo (stream: Stream, input: Readable, output: Writable, options: IoPipeOptions = {}): Promise<PipeResult> {
  const result: PipeResult = options.counts ?? { sent: 0, received: 0 }
  const duplex = streamToDuplex(stream)
  const { promise, resolve } = Promise.withResolvers<PipeResult>()
  let finished = false

  const finish = (err?: Error): void => {
    if (finished) return
    finished = true
    if (err != null) result.error = err
    input.unpipe(duplex)
    duplex.unpipe(output)
    input.off('data', onInput)
    input.off('error', onInputError)
    output.off('error', onOutputError)
    options.signal?.removeEventListener('abort', onAbort)
    if (err != null) duplex.destroy(err)
    // our half: closed once the remote is done (nothing reads the answer to more)
    else if (!duplex.writableEnded) duplex.end()
    resolve(result)
  }
  const onInput = (chunk: Buffer | string): void => { result.sent += chunk.length }
  const onInputError = (err: Error): void => { finish(err) }
  const onOutputError = (err: Error): void => { finish(err) }
  const onAbort = (): void => { finish(new Error('tunnel aborted')) }

  duplex.on('data', (chunk: Buffer) => { result.received += chunk.byteLength })
  duplex.on('error', (err: Error) => { finish(err) })
  // the remote's end: once what it sent is out, the pipe is done
  duplex.on('end', () => {
    if (output.writableNeedDrain) output.once('drain', () => { finish() })
    else finish()
  })
  input.on('data', onInput)
  input.on('error', onInputError)
  output.on('error', onOutputError)
  options.signal?.addEventListener('abort', onAbort, { once: true })
  if (options.signal?.aborted === true) onAbort()
  input.pipe(duplex)
  duplex.pipe(output, { end: false })
  return await promise
}

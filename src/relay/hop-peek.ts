import { Uint8ArrayList } from 'uint8arraylist'
import { parseHopHeader, readVarint } from './hop-message.ts'
import type { HopHeader } from './hop-message.ts'
import type { Stream } from '@libp2p/interface'

/** The first HopMessage of a stream could not be read (ended, too large, or too slow). */
export class HopPeekError extends Error {
  /** True when bytes came that are not a HopMessage (or too many); false when none came in time. */
  readonly malformed: boolean

  constructor (message: string, malformed: boolean) {
    super(message)
    this.name = 'HopPeekError'
    this.malformed = malformed
  }
}

export interface PeekOptions {
  /** Gives up (HopPeekError) when this aborts. */
  signal: AbortSignal
  /** Largest request accepted, length prefix included. @default 4096 */
  maxBytes?: number
}

/**
 * A RESERVE is a few bytes and a CONNECT carries one peer id and perhaps a few
 * addresses: 4 KiB is far above either, and a request that claims more is
 * refused rather than passed on unclassified (it would get past every cap).
 */
const DEFAULT_MAX_REQUEST = 4096

/**
 * Read the first length-prefixed HopMessage of an inbound HOP stream, put
 * every byte read back at the front of the stream (`unshift`, as
 * @libp2p/utils' byteStream does when it is unwrapped) and return its header.
 * The relay's own handler then reads the request as if nobody had looked.
 * Used to tell a reservation from a relayed connection before the library
 * acts on it. Rejects with HopPeekError when the stream ends first, the
 * request is larger than `maxBytes`, the bytes are not a HopMessage, or the
 * signal aborts.
 */
export async function peekHopRequest (stream: Stream, options: PeekOptions): Promise<HopHeader> {
  const max = options.maxBytes ?? DEFAULT_MAX_REQUEST
  const got = new Uint8ArrayList()
  return await new Promise<HopHeader>((resolve, reject) => {
    const cleanup = (): void => {
      stream.removeEventListener('message', onMessage)
      stream.removeEventListener('close', onEnd)
      stream.removeEventListener('remoteCloseWrite', onEnd)
      options.signal.removeEventListener('abort', onAbort)
    }
    const fail = (why: string, malformed = true): void => { cleanup(); reject(new HopPeekError(why, malformed)) }
    const onEnd = (): void => { fail('the stream ended before a whole request', false) }
    const onAbort = (): void => { fail('no whole request in time', false) }
    const onMessage = (evt: Event): void => {
      const data = (evt as Event & { data?: Uint8Array | Uint8ArrayList }).data
      if (data != null) got.append(data)
      const head = got.subarray(0, Math.min(got.byteLength, 10))
      const len = readVarint(head, 0)
      if (len == null) {
        if (got.byteLength >= 10) fail('not a length-prefixed message')
        return
      }
      const total = len[1] + len[0]
      if (total > max) { fail(`a request of ${total} bytes (at most ${max})`); return }
      if (got.byteLength < total) return
      cleanup()
      const header = parseHopHeader(got.subarray(0, total))
      try {
        stream.unshift(got)
      } catch (err) {
        // the read side closed meanwhile: the handler could not read it either
        reject(new HopPeekError(`cannot hand the request on: ${(err as Error).message}`, false))
        return
      }
      if (header == null) reject(new HopPeekError('not a HopMessage', true))
      else resolve(header)
    }
    if (options.signal.aborted) { onAbort(); return }
    options.signal.addEventListener('abort', onAbort)
    stream.addEventListener('close', onEnd)
    stream.addEventListener('remoteCloseWrite', onEnd)
    stream.addEventListener('message', onMessage)
  })
}

import { describe, it, expect } from 'vitest'
import { ReadPauser } from '../../../src/tunnel/read-pauser.ts'
import type { PausableStream } from '../../../src/tunnel/read-pauser.ts'

/**
 * A stream's read side as AbstractMessageStream (@libp2p/utils 7.4.1) runs
 * it: resume() dispatches what it buffered (here: calls `onDispatch`) before
 * it sets readStatus back to 'readable' and grants window, which undoes a
 * pause() made during the dispatch.
 */
function fakeStream (onDispatch: () => void): PausableStream & { pauses: number } {
  const s = {
    readStatus: 'readable' as PausableStream['readStatus'],
    pauses: 0,
    pause (): void { s.pauses++; s.readStatus = 'paused' },
    resume (): void {
      onDispatch()
      s.readStatus = 'readable'
    }
  }
  return s
}

describe('ReadPauser', () => {
  it('pauses a readable stream and resumes a paused one', () => {
    const stream = fakeStream(() => {})
    const reads = new ReadPauser(stream)
    reads.pause()
    expect(stream.readStatus).toBe('paused')
    reads.resume(() => false)
    expect(stream.readStatus).toBe('readable')
  })

  it('applies a pause asked for during resume() once resume() has returned, if the consumer is still full', () => {
    let reads: ReadPauser | undefined
    const stream = fakeStream(() => { reads?.pause() })
    reads = new ReadPauser(stream)
    stream.readStatus = 'paused'
    reads.resume(() => true)
    // a pause inside the dispatch would have been undone by resume(); it is applied after
    expect(stream.readStatus).toBe('paused')
    expect(stream.pauses).toBe(1)
  })

  it('drops a pause asked for during resume() when the consumer has room again by then', () => {
    let reads: ReadPauser | undefined
    const stream = fakeStream(() => { reads?.pause() })
    reads = new ReadPauser(stream)
    stream.readStatus = 'paused'
    reads.resume(() => false)
    expect(stream.readStatus).toBe('readable')
    expect(stream.pauses).toBe(0)
  })

  it('leaves a stream that is not paused alone on resume, and one that is not readable alone on pause', () => {
    let dispatched = 0
    const stream = fakeStream(() => { dispatched++ })
    const reads = new ReadPauser(stream)
    reads.resume(() => true)
    expect(dispatched).toBe(0)
    stream.readStatus = 'closed'
    reads.pause()
    expect(stream.pauses).toBe(0)
  })
})

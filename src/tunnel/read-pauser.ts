import type { Stream } from '@libp2p/interface'

/** What {@link ReadPauser} uses of a libp2p stream. */
export type PausableStream = Pick<Stream, 'readStatus' | 'pause' | 'resume'>

/**
 * Pauses and resumes the readable side of a libp2p stream for a consumer
 * with a bounded buffer (a socket, a Node Duplex).
 *
 * A stream's resume() first dispatches what it buffered while paused, and
 * only then tells the muxer to grant window again. A pause asked for from
 * inside that dispatch would be undone by the muxer's resume: the remote would
 * be granted window while the stream buffers, until its read buffer overflows
 * and the stream is reset (@libp2p/utils 7.4.1, AbstractMessageStream.resume).
 * So a pause asked for during resume() is applied once resume() has returned,
 * if the consumer is still full then.
 */
export class ReadPauser {
  private readonly stream: PausableStream
  private resuming = false
  private pauseAfterResume = false

  constructor (stream: PausableStream) {
    this.stream = stream
  }

  /** The consumer is full: stop reading (after the resume() running now, if any). */
  pause (): void {
    if (this.resuming) this.pauseAfterResume = true
    else if (this.stream.readStatus === 'readable') this.stream.pause()
  }

  /**
   * The consumer has room again: resume a paused stream. `stillFull` is asked
   * only when a pause came during the resume, and the pause is applied if it
   * answers true.
   */
  resume (stillFull: () => boolean): void {
    if (this.stream.readStatus !== 'paused') return
    this.resuming = true
    this.pauseAfterResume = false
    try {
      this.stream.resume()
    } finally {
      this.resuming = false
    }
    if (this.pauseAfterResume && stillFull()) this.pause()
  }
}

import { yamux } from '@chainsafe/libp2p-yamux'
import type { YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import { StreamState } from '@chainsafe/libp2p-yamux/stream'
import type { StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import { tapMuxers } from './muxer-tap.ts'

/**
 * Bytes a yamux stream lets the sender use up before it grants more window
 * (unless half its window is used first): small enough that bulk transfers
 * (64 KiB frames) get an update per frame exactly as before, large enough that
 * request/response traffic (a few small frames per stream, headers under
 * 8 KiB) sends none.
 */
export const WINDOW_UPDATE_THRESHOLD = 8 * 1024

/**
 * libp2p's yamux with one change: a stream grants the sender more window only
 * once WINDOW_UPDATE_THRESHOLD bytes or half of its receive window (whichever
 * is less) have been used, instead of after every data frame.
 *
 * Why: `YamuxStream.handleData` in @chainsafe/libp2p-yamux 8 calls
 * `sendWindowUpdate()` after each data frame, and any consumed byte makes it
 * send one: a window-update frame, a Noise message and a socket write back
 * for every frame received. A tunnel connection that carries one HTTP request
 * and its answer received 2–3 small frames each way and sent as many updates;
 * with keep-alive requests, one per request each way: ~25 % of the CPU per
 * keep-alive request of each tunnel process. go-yamux and rust-yamux wait for
 * half a window; beam waits for at most WINDOW_UPDATE_THRESHOLD.
 *
 * A `beam relay` keeps the library's behaviour (`updateThreshold: 0`): with
 * the threshold on its hop streams too, relayed bulk transfers were ~4 %
 * slower in A/B runs (3 of 4 pairs), and with it off on the relay alone they
 * matched; a relay forwards bulk data and gains nothing from cheaper small
 * requests. The cause was not found (docs/performance.md).
 *
 * Frames that carry a flag (the SYN of a new stream, the ACK of an accepted
 * one) and the update that follows a paused stream's resume go out as before:
 * the library's own method still sends them; beam only skips the calls that
 * would grant less than the threshold on an established stream. The window
 * auto-tuning (doubling while updates come within four round trips) runs on
 * each update that is sent.
 *
 * Streams are internal to the muxer, so beam wraps the muxer's `_newStream`
 * (which makes every inbound and outbound stream) and only on muxers and
 * streams of the 8.x shape; anything else is left alone. Upstream fix: a
 * threshold in `sendWindowUpdate`.
 */
export interface BeamYamuxInit extends YamuxMuxerInit {
  /**
   * Bytes a stream lets the sender use before it grants more window (capped
   * at half the window); 0 sends an update after every frame, as the library
   * does. Default: WINDOW_UPDATE_THRESHOLD (8 KiB).
   */
  updateThreshold?: number
}

export function beamYamux (init: BeamYamuxInit = {}): () => StreamMuxerFactory {
  const { updateThreshold = WINDOW_UPDATE_THRESHOLD, ...yamuxInit } = init
  const make = yamux(yamuxInit)
  if (updateThreshold <= 0) return make
  return tapMuxers(make, (muxer) => { thresholdWindowUpdates(muxer, updateThreshold) })
}

/** What a yamux muxer and its streams look like from here. */
interface MuxerShape { _newStream?: unknown }
interface StreamShape {
  state?: unknown
  recvWindow?: unknown
  recvWindowCapacity?: unknown
  sendWindowUpdate?: unknown
}
type NewStream = (...args: unknown[]) => unknown

/**
 * Makes every stream `muxer` creates from now on grant window only once
 * `threshold` bytes (or half its window) are used; returns false (and leaves
 * the muxer alone) when it is not a yamux muxer of the expected shape.
 */
export function thresholdWindowUpdates (muxer: StreamMuxer, threshold: number = WINDOW_UPDATE_THRESHOLD): boolean {
  const shape = muxer as unknown as MuxerShape
  if (typeof shape._newStream !== 'function') return false
  const newStream = (shape._newStream as NewStream).bind(muxer)
  shape._newStream = (...args: unknown[]): unknown => {
    const stream = newStream(...args)
    patchStream(stream as StreamShape, threshold)
    return stream
  }
  return true
}

function patchStream (stream: StreamShape, threshold: number): void {
  if (typeof stream.sendWindowUpdate !== 'function' || typeof stream.recvWindow !== 'number' || typeof stream.recvWindowCapacity !== 'number') return
  const send = (stream.sendWindowUpdate as () => void).bind(stream)
  stream.sendWindowUpdate = (): void => {
    const flagless = stream.state === StreamState.Established || stream.state === StreamState.SYNSent
    const window = stream.recvWindow as number
    const delta = window - (stream.recvWindowCapacity as number)
    if (flagless && delta < Math.min(window / 2, threshold)) return
    send()
  }
}

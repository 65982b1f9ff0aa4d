/**
 * Patch of @chainsafe/libp2p-yamux's streams. Measured on
 * @chainsafe/libp2p-yamux 8.0.1 (docs/performance.md, "Small requests").
 * Retire it when yamux holds back the window update for a small data frame
 * until the stream sends or enough is consumed (go-yamux waits for half a
 * window), or sends it with the stream's next frame.
 */
import type { StreamMuxer } from '@libp2p/interface'

/**
 * A window update for fewer bytes than this may wait for the stream's next
 * data frame. Small enough that bulk transfers (frames of up to 256 KiB, 64 KiB
 * from a socket read) are granted window per frame exactly as before, large
 * enough for the requests and answers of request/response protocols.
 */
export const DEFERRED_UPDATE_MAX_BYTES = 4 * 1024

/** yamux's StreamState.Established (8.0.1): the only state whose updates carry no flag. */
const ESTABLISHED = 3

/** What a YamuxStream looks like from here. */
interface YamuxStreamShape {
  state?: unknown
  recvWindow?: unknown
  recvWindowCapacity?: unknown
  sendWindowUpdate?: unknown
  sendData?: unknown
}

type NewStream = (...args: unknown[]) => unknown

/**
 * Makes every stream of `muxer` send the window update for a small data frame
 * with its own next data frame, instead of at once in a frame of its own;
 * returns false (and leaves the muxer alone) when it is not yamux's shape.
 *
 * Why: yamux grants window after every data frame it receives. For a small
 * request that is a second frame, a second Noise message and a second
 * `writev` each way, and a second wake-up of the far side to read it: a third
 * of the messages a keep-alive request cost. A request/response stream
 * answers soon; the update now leaves with the answer (in the same Noise
 * message, src/peer/libp2p/coalesced-frames.ts).
 *
 * The window stays open: an update waits only while the bytes it would grant
 * are under {@link DEFERRED_UPDATE_MAX_BYTES} (far below the 256 KiB a sender
 * starts with), and the first data frame that takes them past it sends it at
 * once, so a stream that only receives still grants window every 4 KiB. Updates
 * with a flag (the SYN and ACK of a new stream) and those of a paused stream's
 * resume when it has used that much are sent as before.
 */
export function piggybackWindowUpdates (muxer: StreamMuxer): boolean {
  const shape = muxer as unknown as { _newStream?: unknown }
  if (typeof shape._newStream !== 'function') return false
  const newStream = (shape._newStream as NewStream).bind(muxer)
  shape._newStream = (...args: unknown[]) => {
    const stream = newStream(...args)
    deferSmallUpdates(stream as YamuxStreamShape)
    return stream
  }
  return true
}

/** One stream's change (see {@link piggybackWindowUpdates}); false when the stream is not of yamux 8's shape. */
export function deferSmallUpdates (stream: YamuxStreamShape): boolean {
  if (typeof stream.sendWindowUpdate !== 'function' || typeof stream.sendData !== 'function') return false
  if (typeof stream.recvWindow !== 'number' || typeof stream.recvWindowCapacity !== 'number') return false
  const sendWindowUpdate = (stream.sendWindowUpdate as () => void).bind(stream)
  const sendData = (stream.sendData as (data: unknown) => unknown).bind(stream)
  let owed = false
  stream.sendWindowUpdate = () => {
    const used = (stream.recvWindow as number) - (stream.recvWindowCapacity as number)
    if (stream.state === ESTABLISHED && used > 0 && used < DEFERRED_UPDATE_MAX_BYTES) {
      owed = true
      return
    }
    owed = false
    sendWindowUpdate()
  }
  stream.sendData = (data: unknown) => {
    if (owed) {
      owed = false
      sendWindowUpdate()
    }
    return sendData(data)
  }
  return true
}

/**
 * Patch of @chainsafe/libp2p-yamux's muxer. Measured on
 * @chainsafe/libp2p-yamux 8.0.1 with @libp2p/utils 7.4.1 and
 * @chainsafe/libp2p-noise 17.0.0 (docs/performance.md, "Small requests").
 * Retire it when the muxer (or `AbstractStreamMuxer.send`) batches the frames
 * of one turn into one write to the connection.
 */
import type { StreamMuxer } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { atTurnEnd } from '../../tunnel/index.ts'

/**
 * Pending frames are sent at once, without waiting for the microtask, when
 * they reach this many bytes: a bulk frame (up to 256 KiB) goes out as soon as
 * it is made, as before, and a burst of small ones is bounded. Noise cuts what
 * it is given into messages of up to 65,519 bytes, so a batch below this is one
 * Noise message.
 */
export const COALESCE_MAX_BYTES = 16 * 1024

type Send = (data: Uint8Array | Uint8ArrayList) => boolean

/** What yamux's muxer looks like from here: its `send` (AbstractStreamMuxer's) and the connection under it. */
interface MuxerShape {
  send?: unknown
  maConn?: { writableNeedsDrain?: unknown, writeStatus?: unknown, close?: unknown, send?: unknown }
}

/**
 * Makes `muxer` send the frames it makes in one synchronous run (one turn of
 * the event loop, up to its microtasks) to the connection as one write,
 * instead of one write per frame; returns false (and leaves the muxer alone)
 * when it is not of the expected shape.
 *
 * Why: every yamux frame went to the encrypted connection by itself, and Noise
 * makes each write its own message: a 2-byte length, a ChaCha20-Poly1305 run
 * (through WASM for small ones) and its tag, then a `writev` to the socket.
 * A small request is one data frame plus a window update each way; when a
 * socket read carries frames of several streams (concurrent requests, a
 * pipelining client), or several tunnels answer in one turn, each frame still
 * cost a Noise message and a system call of its own. Frames made in the same
 * turn now leave as one Noise message and one `writev`, at the end of the
 * turn: in the check phase of the same loop iteration, after every tunnel
 * pipe's work of the turn (src/tunnel/turn-end.ts, `last`), so nothing waits
 * for a later turn or a timer. (The end of a microtask run was too early: a
 * new stream's SYN, its protocol negotiation and its first request, or the
 * listener's ACK and its two negotiation answers, are made a few promise
 * hops apart within one socket read, and left as two or three Noise messages
 * and `writev`s.)
 *
 * Order is kept (every frame of the connection goes through one queue), and
 * backpressure too: a batch reaching {@link COALESCE_MAX_BYTES} is sent at
 * once and its result returned, and while the connection needs draining the
 * muxer is told so for queued frames as well. Frames queued when the
 * connection is closed are sent before it closes.
 */
export function coalesceFrames (muxer: StreamMuxer): boolean {
  const shape = muxer as unknown as MuxerShape
  const conn = shape.maConn
  if (typeof shape.send !== 'function' || conn == null || typeof conn.close !== 'function' || typeof conn.send !== 'function') return false
  const send = (shape.send as Send).bind(muxer)
  let pending: Uint8ArrayList | undefined
  let scheduled = false

  const flush = (): boolean => {
    const batch = pending
    pending = undefined
    if (batch == null) return true
    return send(batch)
  }
  const flushAtTurnEnd = (): void => {
    scheduled = false
    try {
      flush()
    } catch {
      // the connection closed under the queued frames: the muxer learns it from
      // the connection's close, as it would have from a direct send
    }
  }
  const coalescing: Send = (data) => {
    // a connection that can no longer be written to refuses at once, as it did
    // before (the stream that sent learns it); nothing is queued behind that
    if (conn.writeStatus !== 'writable') {
      flush()
      return send(data)
    }
    if (pending == null) pending = new Uint8ArrayList()
    pending.append(data)
    if (pending.byteLength >= COALESCE_MAX_BYTES) return flush()
    if (!scheduled) {
      scheduled = true
      atTurnEnd(flushAtTurnEnd, { last: true })
    }
    return conn.writableNeedsDrain !== true
  }
  shape.send = coalescing

  const close = (conn.close as (...args: unknown[]) => Promise<void>).bind(conn)
  conn.close = async (...args: unknown[]) => {
    try { flush() } catch {}
    await close(...args)
  }
  return true
}

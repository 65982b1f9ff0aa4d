/**
 * One callback at the end of each event-loop turn for every tunnel, instead of
 * one per tunnel.
 *
 * The pipes (pipe.ts) hand what they read in a turn to their streams, and
 * uncork their sockets, on `setImmediate`. With one immediate per pipe, each
 * ran as its own callback, and the muxer under the streams (which sends the
 * frames of one synchronous run as one Noise message:
 * src/peer/libp2p/coalesced-frames.ts) saw each tunnel's frames apart. Run
 * from one callback, the sends of every tunnel in a turn reach the connection
 * as one write. Nothing is held longer than before: the callback runs in the
 * same check phase the separate immediates ran in.
 */

let queue: Array<() => void> = []
let scheduled = false

function runQueue (): void {
  scheduled = false
  const run = queue
  queue = []
  let failure: { err: unknown } | undefined
  for (const fn of run) {
    try {
      fn()
    } catch (err) {
      failure ??= { err }
    }
  }
  // as an exception in a callback of its own would have been: uncaught, but only
  // after the others ran
  if (failure != null) throw failure.err
}

/** Run `fn` at the end of this turn of the event loop (in the check phase, with the other tunnels' work). */
export function atTurnEnd (fn: () => void): void {
  queue.push(fn)
  if (!scheduled) {
    scheduled = true
    setImmediate(runQueue)
  }
}

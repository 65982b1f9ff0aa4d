/**
 * One callback at the end of each event-loop turn for every tunnel, instead of
 * one per tunnel.
 *
 * The pipes (pipe.ts) hand what they read in a turn to their streams, and
 * uncork their sockets, on `setImmediate`. With one immediate per pipe, each
 * ran as its own callback, and the muxer under the streams (which sends the
 * frames of one turn as one Noise message:
 * src/peer/libp2p/coalesced-frames.ts) saw each tunnel's frames apart. Run
 * from one callback, the sends of every tunnel in a turn reach the connection
 * as one write. Nothing is held longer than before: the callback runs in the
 * same check phase the separate immediates ran in.
 *
 * Work queued with `last` runs after every other callback of the turn (those
 * queued while the turn's callbacks run included): the muxer's flush, so that
 * what the pipes hand over in the turn leaves with the frames made earlier in
 * the same turn of the loop. Work queued in the microtasks that follow the
 * callbacks (up to {@link SETTLE_HOPS} hops without any) still runs in this
 * turn, from a microtask.
 */

let queue: Array<() => void> = []
let lastQueue: Array<() => void> = []
let scheduled = false
let running = false

function runAll (run: Array<() => void>, failure: { err?: unknown, failed: boolean }): void {
  for (const fn of run) {
    try {
      fn()
    } catch (err) {
      if (!failure.failed) failure.err = err
      failure.failed = true
    }
  }
}

/** Runs what is queued, `last` work after the rest, until nothing is left; returns the first exception. */
function drain (failure: { err?: unknown, failed: boolean }): void {
  // callbacks may queue more for this turn (a flush that ends a stream, a
  // pipe that uncorks): run them too, and the `last` ones after all others
  while (queue.length > 0 || lastQueue.length > 0) {
    while (queue.length > 0) {
      const run = queue
      queue = []
      runAll(run, failure)
    }
    const last = lastQueue
    lastQueue = []
    runAll(last, failure)
  }
}

/**
 * Microtask hops after the end-of-turn callbacks during which work queued
 * still runs in this turn: the promise continuations of what the callbacks
 * started (a stream's close, a handshake's next step) make frames a few hops
 * later, and scheduling a new immediate for them would cost a loop iteration
 * (a non-blocking `epoll_pwait`) more.
 */
const SETTLE_HOPS = 16
let idleHops = 0

function runQueue (): void {
  scheduled = false
  running = true
  const failure: { err?: unknown, failed: boolean } = { failed: false }
  drain(failure)
  idleHops = 0
  queueMicrotask(settle)
  // as an exception in a callback of its own would have been: uncaught, but only
  // after the others ran
  if (failure.failed) throw failure.err
}

function settle (): void {
  const failure: { err?: unknown, failed: boolean } = { failed: false }
  if (queue.length > 0 || lastQueue.length > 0) {
    idleHops = 0
    drain(failure)
  } else {
    idleHops++
  }
  if (idleHops < SETTLE_HOPS) queueMicrotask(settle)
  else running = false
  if (failure.failed) throw failure.err
}

export interface AtTurnEndOptions {
  /** Run after every callback queued without it in this turn. @default false */
  last?: boolean
}

/** Run `fn` at the end of this turn of the event loop (in the check phase, with the other tunnels' work). */
export function atTurnEnd (fn: () => void, options?: AtTurnEndOptions): void {
  if (options?.last === true) lastQueue.push(fn)
  else queue.push(fn)
  if (!scheduled && !running) {
    scheduled = true
    setImmediate(runQueue)
  }
}

/** Whether the end-of-turn callbacks, or the microtasks right after them, are running now (work queued now still runs in this turn). */
export function inTurnEnd (): boolean {
  return running
}

import { REPUBLISH_INTERVAL } from '../constants.ts'

/**
 * When a node announces itself in the DHT next: the public network's
 * interval when nothing happens, soon after its addresses change (a provider
 * record's answer carries them), fast retries only after a failure. A pure
 * function of the schedule's state and the clock, so that the choice is
 * testable without a network or timers (DhtPresence runs it).
 */

/** Wait after an address change before announcing, in ms: reservations come in one by one. */
export const PUBLISH_SETTLE_DELAY = 2000
/**
 * Shortest time between two announcements that address changes cause, in
 * ms. A share whose relay reservation comes and goes would otherwise walk
 * the DHT and write to 20 servers per key at each flap.
 */
export const MIN_REPUBLISH_GAP = 30_000
/** Longest wait between two failed announcements, in ms. */
export const MAX_PUBLISH_RETRY_DELAY = 60_000

/** Wait before the next announcement after `failures` failed ones in a row, in ms: 2 s, 4 s, … up to a minute. */
export function publishRetryDelay (failures: number): number {
  return Math.min(1000 * 2 ** Math.min(failures, 6), MAX_PUBLISH_RETRY_DELAY)
}

/** What the schedule knows (times in ms since the epoch). */
export interface PublishState {
  /** When the last announcement that worked started; undefined: none yet. */
  lastOk?: number | undefined
  /** Failed announcements in a row since then. */
  failures: number
  /** When the last failed announcement ended (set with `failures`). */
  lastFailure?: number | undefined
  /** When the node's addresses last changed, if they changed since the last announcement started. */
  changedAt?: number | undefined
}

/** Intervals of the schedule; the defaults are beam's. */
export interface PublishIntervals {
  /** Re-announce after this long when nothing changed, in ms. @default REPUBLISH_INTERVAL (22 h) */
  republish?: number
  /** Quiet time after an address change, in ms. @default PUBLISH_SETTLE_DELAY (2000) */
  settle?: number
  /** Shortest gap between announcements caused by address changes, in ms. @default MIN_REPUBLISH_GAP (30000) */
  minGap?: number
}

/**
 * How long from `now` until the next announcement is due, in ms (0: now):
 * - never announced: now;
 * - after failures: the backoff of {@link publishRetryDelay} from the last
 *   failure (an address change does not shorten it: the retry announces
 *   the current addresses anyway);
 * - addresses changed since the last announcement: once they have been
 *   quiet for `settle`, and not sooner than `minGap` after that announcement;
 * - otherwise `republish` after the last announcement.
 */
export function nextPublishDelay (state: PublishState, now: number, intervals: PublishIntervals = {}): number {
  const republish = intervals.republish ?? REPUBLISH_INTERVAL
  const settle = intervals.settle ?? PUBLISH_SETTLE_DELAY
  const minGap = intervals.minGap ?? MIN_REPUBLISH_GAP
  let due: number
  if (state.failures > 0) due = (state.lastFailure ?? now) + publishRetryDelay(state.failures)
  else if (state.lastOk == null) due = now
  else if (state.changedAt != null) due = Math.max(state.changedAt + settle, state.lastOk + minGap)
  else due = state.lastOk + republish
  return Math.max(0, due - now)
}

/** The multiaddrs of a peer-store entry as a set of strings (order does not matter). */
export function addressSet (peer: { addresses: Array<{ multiaddr: { toString: () => string } }> } | undefined): Set<string> {
  return new Set((peer?.addresses ?? []).map(a => a.multiaddr.toString()))
}

/**
 * Whether two address sets differ. The publishing schedule compares the
 * node's addresses at each `self:peer:update` with those it saw last:
 * libp2p sends that event for every change of the node's own peer-store
 * entry (protocols registered, e.g. by a lazily built transport, metadata,
 * addresses), and only the addresses are in a provider record's answer.
 * (The event's own `previous` cannot be used: after a merge of addresses,
 * @libp2p/peer-store 12 hands out a `previous` that already holds them.)
 */
export function addressesDiffer (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return true
  for (const x of a) if (!b.has(x)) return true
  return false
}

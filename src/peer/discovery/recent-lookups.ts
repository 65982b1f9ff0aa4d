/**
 * DHT lookups of one node, by target: a lookup asked for while the same one
 * runs joins it, and one asked for shortly after it ended gets its answer
 * (or its "not found") without walking the DHT again. A connector that
 * redials a share for every new local connection (a browser opens six at
 * once) thus walks the DHT once, not once per connection.
 */

/**
 * How long a lookup's answer is reused, in ms. Long enough to cover a burst
 * of redials (each local connection of an app redials a lost share), short
 * enough that a share that moved (restarted, new port) and re-announced
 * itself (2 s after the change, see publish-schedule.ts) is looked up again
 * within half a minute.
 */
export const LOOKUP_REUSE_TIME = 30_000

/** Options of {@link RecentLookups}. */
export interface RecentLookupsInit {
  /** How long an answer is reused, in ms. @default LOOKUP_REUSE_TIME (30000) */
  reuseMs?: number
  /** Whether a failure is an answer to reuse ("not found"), not an accident of the caller (an abort). @default every failure */
  isAnswer?: (err: unknown) => boolean
  /** The clock, in ms. @default Date.now */
  now?: () => number
}

interface Entry<T> {
  promise: Promise<T>
  /** Aborts the lookup: when every caller waiting for it has left. */
  stop: AbortController
  /** Callers waiting for it now. */
  waiting: number
  /** When the lookup ended; undefined while it runs. */
  endedAt?: number
}

/** The outcome of {@link RecentLookups.run}. */
export interface RecentLookup<T> {
  /** The lookup's answer. */
  value: T
  /** True when it came from a lookup that another caller started (running, or ended within the reuse time). */
  reused: boolean
  /** When reused: how long ago that lookup ended, in ms (0 while it was running). */
  ageMs: number
}

/** Lookups by key, joined while they run and reused for a short time after. */
export class RecentLookups<T> {
  private readonly entries = new Map<string, Entry<T>>()
  private readonly reuseMs: number
  private readonly isAnswer: (err: unknown) => boolean
  private readonly now: () => number

  constructor (init: RecentLookupsInit = {}) {
    this.reuseMs = init.reuseMs ?? LOOKUP_REUSE_TIME
    this.isAnswer = init.isAnswer ?? (() => true)
    this.now = init.now ?? Date.now
  }

  /**
   * The answer for `key`: from a lookup running or recently ended, else from
   * `lookup(signal)`, started now. `signal` ends this caller's wait; the
   * lookup itself is aborted (through the signal it was given) only when
   * every caller waiting for it has left.
   */
  async run (key: string, lookup: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<RecentLookup<T>> {
    signal?.throwIfAborted()
    this.prune()
    const cached = this.entries.get(key)
    if (cached != null) {
      const ageMs = cached.endedAt == null ? 0 : this.now() - cached.endedAt
      return { value: await this.wait(cached, signal), reused: true, ageMs }
    }
    const stop = new AbortController()
    const entry: Entry<T> = { promise: lookup(stop.signal), stop, waiting: 0 }
    this.entries.set(key, entry)
    entry.promise.then(() => { entry.endedAt = this.now() }, (err: unknown) => {
      // an aborted lookup is no answer: the next caller looks again
      if (!stop.signal.aborted && this.isAnswer(err)) entry.endedAt = this.now()
      else if (this.entries.get(key) === entry) this.entries.delete(key)
    })
    return { value: await this.wait(entry, signal), reused: false, ageMs: 0 }
  }

  /** Forget every answer (the next lookup of each key walks the DHT). */
  clear (): void {
    this.entries.clear()
  }

  /** The entry's answer, or the abort of `signal`; the last caller to leave a running lookup stops it. */
  private async wait (entry: Entry<T>, signal?: AbortSignal): Promise<T> {
    if (entry.endedAt != null) return await entry.promise
    entry.waiting++
    let onAbort: (() => void) | undefined
    try {
      if (signal == null) return await entry.promise
      return await Promise.race([
        entry.promise,
        new Promise<never>((_resolve, reject) => {
          onAbort = () => {
            reject(signal.reason)
            if (entry.waiting === 1 && entry.endedAt == null) entry.stop.abort(signal.reason)
          }
          signal.addEventListener('abort', onAbort, { once: true })
        })
      ])
    } finally {
      entry.waiting--
      if (onAbort != null) signal?.removeEventListener('abort', onAbort)
    }
  }

  private prune (): void {
    const now = this.now()
    for (const [key, e] of this.entries) {
      if (e.endedAt != null && now - e.endedAt >= this.reuseMs) this.entries.delete(key)
    }
  }
}


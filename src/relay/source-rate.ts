/** Limits of {@link SourceRateLimiter}. */
export interface SourceRateInit {
  /** Answers one source may get in a burst (its bucket's size). @default 20 */
  burst?: number
  /** Answers one source regains per second. @default 5 */
  perSecond?: number
  /** Sources tracked at once; past it, new sources wait until old buckets are full again. @default 10000 */
  maxSources?: number
  /** Answers per second for all sources together (a bucket of one second's worth). @default 2000 */
  totalPerSecond?: number
  /** Clock in ms (tests). @default Date.now */
  now?: () => number
}

/** STUN answers one source may get in a burst: a few ICE gatherings and a `beam doctor` at once. */
export const DEFAULT_STUN_BURST = 20
/** STUN answers one source regains per second. */
export const DEFAULT_STUN_PER_SECOND = 5
/** Sources the STUN responder tracks at once (~100 bytes each). */
export const DEFAULT_STUN_MAX_SOURCES = 10_000
/** STUN answers per second for all sources together. */
export const DEFAULT_STUN_TOTAL_PER_SECOND = 2000

interface Bucket { tokens: number, at: number }

/**
 * Token buckets per source address, in a table of bounded size, plus one for
 * all sources together. A source's bucket holds `burst` tokens and refills at
 * `perSecond`; an answer takes one from it and one from the total. When the
 * table is full, buckets that have refilled completely (they carry no state a
 * new bucket would not) are forgotten, at most once a second; a source that
 * still finds no room is refused. A flood of spoofed sources therefore can
 * neither grow the table nor reset the bucket of a source it targets.
 */
export class SourceRateLimiter {
  private readonly burst: number
  private readonly perSecond: number
  private readonly maxSources: number
  private readonly totalPerSecond: number
  private readonly now: () => number
  private readonly buckets = new Map<string, Bucket>()
  private readonly total: Bucket
  private lastPrune = -Infinity

  constructor (init: SourceRateInit = {}) {
    this.burst = init.burst ?? DEFAULT_STUN_BURST
    this.perSecond = init.perSecond ?? DEFAULT_STUN_PER_SECOND
    this.maxSources = init.maxSources ?? DEFAULT_STUN_MAX_SOURCES
    this.totalPerSecond = init.totalPerSecond ?? DEFAULT_STUN_TOTAL_PER_SECOND
    this.now = init.now ?? Date.now
    this.total = { tokens: this.totalPerSecond, at: this.now() }
  }

  /** Sources tracked now. */
  get size (): number { return this.buckets.size }

  /** Whether `source` may be answered now; takes a token if so. */
  allow (source: string): boolean {
    const now = this.now()
    let bucket = this.buckets.get(source)
    if (bucket == null) {
      if (this.buckets.size >= this.maxSources) this.prune(now)
      if (this.buckets.size >= this.maxSources) return false
      bucket = { tokens: this.burst, at: now }
      this.buckets.set(source, bucket)
    }
    refill(bucket, now, this.perSecond, this.burst)
    refill(this.total, now, this.totalPerSecond, this.totalPerSecond)
    if (bucket.tokens < 1 || this.total.tokens < 1) return false
    bucket.tokens--
    this.total.tokens--
    return true
  }

  private prune (now: number): void {
    if (now - this.lastPrune < 1000) return
    this.lastPrune = now
    for (const [source, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.buckets.delete(source)
    }
  }
}

function refill (b: Bucket, now: number, perSecond: number, cap: number): void {
  if (now > b.at) {
    b.tokens = Math.min(cap, b.tokens + ((now - b.at) / 1000) * perSecond)
    b.at = now
  }
}

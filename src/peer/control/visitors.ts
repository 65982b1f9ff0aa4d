/**
 * Web visitors of a share served through a gateway, as the share sees them:
 * the gateway sends batches of request counts (by status class), latency
 * histograms and bytes; {@link VisitorStats} adds them up for `beam status`.
 */

/** One batch of visitor requests a gateway reports to a share. */
export interface VisitorBatch {
  /** Requests in the batch. */
  requests: number
  /** Requests by status class: index 0 is 1xx, 1 is 2xx … 4 is 5xx. */
  classes: [number, number, number, number, number]
  /** Upper bounds (ms) of the latency histogram's buckets, ascending; a last, unbounded bucket follows. */
  le: number[]
  /** Requests per bucket: `le.length + 1` counts. */
  counts: number[]
  /** Sum of the latencies, in ms. */
  sumMs: number
  /** The longest latency, in ms. */
  maxMs: number
  /** Bytes from visitors. */
  bytesIn: number
  /** Bytes to visitors. */
  bytesOut: number
}

/** Requests by status class. */
export interface StatusClassCounts {
  /** Informational answers (101: WebSocket sessions). */
  '1xx': number
  /** Successes. */
  '2xx': number
  /** Redirects. */
  '3xx': number
  /** Client errors (and the gateway's 401 sign-in and 429 limit pages). */
  '4xx': number
  /** Server errors (and the gateway's 502/503/504 pages). */
  '5xx': number
}

/** A latency summary, in ms; percentiles are the upper bound of their histogram bucket. */
export interface VisitorLatency {
  /** Median. */
  p50Ms: number
  /** 99th percentile. */
  p99Ms: number
  /** Mean. */
  meanMs: number
  /** Maximum. */
  maxMs: number
}

/** What `beam status` shows of a share's gateway: its URL, state and visitors. */
export interface GatewayStatus {
  /** The gateway's peer id. */
  peerId: string
  /** The share's URL there (its short name's when it claimed one). */
  url: string
  /** registered, or lost (being made again). */
  state: 'registered' | 'lost'
  /** Visitor requests the gateway reported since the share started. */
  requests: number
  /** Requests by status class. */
  statusClasses: StatusClassCounts
  /** Latency at the gateway (visitor's request in to last byte out), in ms, or null before the first request. */
  latency: VisitorLatency | null
  /** Bytes from visitors. */
  bytesIn: number
  /** Bytes to visitors. */
  bytesOut: number
  /** When the last batch arrived (ISO 8601), or null. */
  lastReport: string | null
}

/** Distinct histogram bounds kept at most (batches with others are counted, their histogram dropped). */
const MAX_BOUNDS = 64

/**
 * Totals of the batches: counts by status class and a latency histogram,
 * whose percentiles are the upper bound of the bucket they fall in (the
 * maximum for the unbounded bucket).
 */
export class VisitorStats {
  private requests = 0
  private readonly classes = [0, 0, 0, 0, 0]
  /** Bucket upper bound (Infinity for the last) → requests. */
  private readonly buckets = new Map<number, number>()
  private sumMs = 0
  private maxMs = 0
  private bytesIn = 0
  private bytesOut = 0
  private last: number | null = null

  /** Add one batch (ignored when malformed). */
  add (b: VisitorBatch, now: number): void {
    if (!validBatch(b)) return
    this.requests += b.requests
    b.classes.forEach((n, i) => { this.classes[i] = (this.classes[i] ?? 0) + n })
    const bounds = [...b.le, Infinity]
    if (bounds.every(x => this.buckets.has(x)) || this.buckets.size + bounds.length <= MAX_BOUNDS) {
      bounds.forEach((le, i) => { this.buckets.set(le, (this.buckets.get(le) ?? 0) + (b.counts[i] ?? 0)) })
    }
    this.sumMs += b.sumMs
    this.maxMs = Math.max(this.maxMs, b.maxMs)
    this.bytesIn += b.bytesIn
    this.bytesOut += b.bytesOut
    this.last = now
  }

  /** The totals, as {@link GatewayStatus} shows them. */
  summary (): Pick<GatewayStatus, 'requests' | 'statusClasses' | 'latency' | 'bytesIn' | 'bytesOut' | 'lastReport'> {
    const [c1, c2, c3, c4, c5] = this.classes
    return {
      requests: this.requests,
      statusClasses: { '1xx': c1 ?? 0, '2xx': c2 ?? 0, '3xx': c3 ?? 0, '4xx': c4 ?? 0, '5xx': c5 ?? 0 },
      latency: this.requests === 0 ? null : { p50Ms: this.percentile(0.5), p99Ms: this.percentile(0.99), meanMs: Math.round(this.sumMs / this.requests * 10) / 10, maxMs: this.maxMs },
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      lastReport: this.last != null ? new Date(this.last).toISOString() : null
    }
  }

  private percentile (p: number): number {
    const sorted = [...this.buckets.entries()].sort((a, b) => a[0] - b[0])
    const total = sorted.reduce((n, [, c]) => n + c, 0)
    if (total === 0) return 0
    const want = Math.ceil(total * p)
    let seen = 0
    for (const [le, c] of sorted) {
      seen += c
      if (seen >= want) return Math.min(le, this.maxMs)
    }
    return this.maxMs
  }
}

const count = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0

/** Whether a batch has the shape {@link VisitorBatch} says (it comes from the network). */
export function validBatch (b: unknown): b is VisitorBatch {
  if (b == null || typeof b !== 'object') return false
  const x = b as Partial<VisitorBatch>
  return count(x.requests) && count(x.sumMs) && count(x.maxMs) && count(x.bytesIn) && count(x.bytesOut) &&
    Array.isArray(x.classes) && x.classes.length === 5 && x.classes.every(count) &&
    Array.isArray(x.le) && x.le.length <= 32 && x.le.every(count) &&
    Array.isArray(x.counts) && x.counts.length === x.le.length + 1 && x.counts.every(count)
}

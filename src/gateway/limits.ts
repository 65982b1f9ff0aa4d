import { Transform } from 'node:stream'
import type { TransformCallback } from 'node:stream'

/**
 * What one share may take of a gateway: requests per second, bytes per
 * second, and requests (or WebSocket sessions) in flight. Kept per share
 * peer id, so that one busy share cannot starve the others; every visitor of
 * a share counts against that share's budget.
 */

/** Requests per second per share, on average. @default 100 */
export const DEFAULT_SHARE_RATE = 100
/** Requests in flight (WebSocket sessions included) per share. @default 256 */
export const DEFAULT_MAX_VISITORS = 256
/** How long a share's counters are kept after its last request, in ms. */
const IDLE_FORGET = 10 * 60_000

/** Options of {@link ShareLimits}. */
export interface GatewayLimitOptions {
  /** Requests per second per share (bursts of twice that); 0 = no limit. @default 100 */
  ratePerSecond?: number | undefined
  /** Bytes per second per share, both directions together (bursts of one second's worth); 0 = no limit. @default 0 */
  bytesPerSecond?: number | undefined
  /** Requests and WebSocket sessions in flight per share; 0 = no limit. @default 256 */
  maxVisitors?: number | undefined
  /** The clock, in ms. @default performance.now */
  now?: () => number
}

/** A token bucket: `rate` tokens a second, holding at most `burst`. */
class Bucket {
  private tokens: number
  private last: number
  private readonly rate: number
  private readonly burst: number
  private readonly now: () => number
  constructor (rate: number, burst: number, now: () => number) {
    this.rate = rate
    this.burst = burst
    this.now = now
    this.tokens = burst
    this.last = now()
  }

  private refill (): void {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + (t - this.last) * this.rate / 1000)
    this.last = t
  }

  /** Take one token if there is one. */
  take (): boolean {
    this.refill()
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Take `n` tokens, going into debt; returns how long to wait (ms) until the debt is paid. */
  spend (n: number): number {
    this.refill()
    this.tokens -= n
    return this.tokens >= 0 ? 0 : -this.tokens * 1000 / this.rate
  }
}

interface PerShare {
  requests: Bucket | undefined
  bytes: Bucket | undefined
  inFlight: number
  lastUsed: number
}

/** Why a request was turned away. */
export type LimitReason = 'rate' | 'visitors'

/** The per-share limits of a gateway. */
export class ShareLimits {
  readonly ratePerSecond: number
  readonly bytesPerSecond: number
  readonly maxVisitors: number
  private readonly now: () => number
  private readonly shares = new Map<string, PerShare>()

  constructor (options: GatewayLimitOptions = {}) {
    this.ratePerSecond = options.ratePerSecond ?? DEFAULT_SHARE_RATE
    this.bytesPerSecond = options.bytesPerSecond ?? 0
    this.maxVisitors = options.maxVisitors ?? DEFAULT_MAX_VISITORS
    this.now = options.now ?? (() => performance.now())
  }

  private of (share: string): PerShare {
    let s = this.shares.get(share)
    if (s == null) {
      this.forgetIdle()
      s = {
        requests: this.ratePerSecond > 0 ? new Bucket(this.ratePerSecond, this.ratePerSecond * 2, this.now) : undefined,
        bytes: this.bytesPerSecond > 0 ? new Bucket(this.bytesPerSecond, this.bytesPerSecond, this.now) : undefined,
        inFlight: 0,
        lastUsed: this.now()
      }
      this.shares.set(share, s)
    }
    s.lastUsed = this.now()
    return s
  }

  private forgetIdle (): void {
    const t = this.now()
    for (const [k, s] of this.shares) if (s.inFlight === 0 && t - s.lastUsed > IDLE_FORGET) this.shares.delete(k)
  }

  /** Admit a request for `share`: undefined (then call the returned release when it ends) or why not. */
  admit (share: string): { release: () => void } | { refused: LimitReason } {
    const s = this.of(share)
    if (this.maxVisitors > 0 && s.inFlight >= this.maxVisitors) return { refused: 'visitors' }
    if (s.requests != null && !s.requests.take()) return { refused: 'rate' }
    s.inFlight++
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        s.inFlight--
        s.lastUsed = this.now()
      }
    }
  }

  /** Requests in flight over all shares. */
  get inFlight (): number {
    let n = 0
    for (const s of this.shares.values()) n += s.inFlight
    return n
  }

  /**
   * A pass-through stream that holds bytes back to the share's bandwidth
   * (both directions draw on one budget); undefined without a limit.
   * Backpressure does the rest: a held chunk stops the source.
   */
  throttle (share: string): Transform | undefined {
    const bucket = this.of(share).bytes
    if (bucket == null) return undefined
    return new Transform({
      transform (chunk: Buffer, _enc, cb: TransformCallback) {
        const wait = bucket.spend(chunk.length)
        if (wait <= 0) { cb(null, chunk); return }
        setTimeout(() => { cb(null, chunk) }, Math.min(wait, 60_000))
      }
    })
  }
}

/** Backoff between upgrade attempts after a failure: first retry, then doubling from MIN up to MAX, in ms. */
export const UPGRADE_RETRY_FIRST = 5_000
export const UPGRADE_RETRY_MIN = 30_000
export const UPGRADE_RETRY_MAX = 300_000

/**
 * How long to wait before the next upgrade attempt after `failures` failed
 * ones in a row (0 for the first failure): the first retry comes soon (a busy
 * machine or a lost ICE packet), then the wait doubles from 30 s up to 5 min.
 */
export function upgradeRetryDelay (failures: number): number {
  return failures === 0 ? UPGRADE_RETRY_FIRST : Math.min(UPGRADE_RETRY_MIN * 2 ** (failures - 1), UPGRADE_RETRY_MAX)
}

/**
 * The backoff between attempts at a direct path (WebRTC upgrade, connection
 * reversal): after a failure no attempt starts until its delay has passed,
 * and the owner is called back once it has, to look at the path again.
 */
export class RetryGate {
  private readonly onReady: () => void
  private failures = 0
  private nextAt = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  /** `onReady` runs once a backoff that held an attempt back has passed. */
  constructor (onReady: () => void) {
    this.onReady = onReady
  }

  /** Whether an attempt may start now; if not, `onReady` is scheduled (once) for when it may. */
  open (): boolean {
    const wait = this.nextAt - Date.now()
    if (wait <= 0) return true
    if (this.timer == null) {
      this.timer = setTimeout(() => { this.timer = undefined; this.onReady() }, wait)
      this.timer.unref()
    }
    return false
  }

  /** The delay the next failure will bring, in ms ({@link upgradeRetryDelay} of the failures so far). */
  nextDelay (): number {
    return upgradeRetryDelay(this.failures)
  }

  /** An attempt succeeded: the backoff starts over. */
  succeeded (): void {
    this.failures = 0
  }

  /** An attempt failed: counted, and the next waits `retryInMs` (@default {@link nextDelay}). Returns that wait. */
  failed (retryInMs = this.nextDelay()): number {
    this.failures++
    this.nextAt = Date.now() + retryInMs
    return retryInMs
  }

  /** Hold attempts back for `ms` without counting a failure. */
  holdFor (ms: number): void {
    this.nextAt = Date.now() + ms
  }

  /** Cancel a scheduled `onReady`. */
  close (): void {
    if (this.timer != null) clearTimeout(this.timer)
  }
}

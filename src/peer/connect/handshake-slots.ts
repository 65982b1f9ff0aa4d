/**
 * Tunnel handshakes one connector keeps in flight at once; the rest wait
 * their turn, first come first served.
 *
 * A share resets new tunnel streams past its cap of handshakes in progress
 * per peer (DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER, 64), its guard against
 * a peer that opens streams and sends nothing. A burst of local connections
 * (a load tool opening 1,000 at once) would otherwise reach it: since the
 * frames of one loop turn leave in one message, the share sees them all at
 * once. Waiting here costs a queued connection only the time the ones ahead
 * of it take to be answered, and loses none.
 */
export class HandshakeSlots {
  private free: number
  private readonly waiting: Array<() => void> = []

  /** @param max handshakes in flight at once (at least 1). */
  constructor (max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`handshake slots: expected a whole number ≥ 1, got ${max}`)
    this.free = max
  }

  /** Handshakes waiting for a slot. */
  get queued (): number {
    return this.waiting.length
  }

  /** Wait for a slot (or for `signal`); returns the function that gives it back, to call once. */
  async take (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.free > 0) {
      this.free--
      return this.releaser()
    }
    await new Promise<void>((resolve, reject) => {
      const turn = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        const i = this.waiting.indexOf(turn)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(turn)
    })
    return this.releaser()
  }

  private releaser (): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.waiting.shift()
      // the slot passes straight to the next in line
      if (next != null) next()
      else this.free++
    }
  }
}

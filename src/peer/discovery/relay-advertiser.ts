import { relayKey } from './discovery.ts'
import { PUBLISH_TIMEOUT, WakeableSleep, publishRetryDelay } from './presence.ts'
import { REPUBLISH_INTERVAL } from '../constants.ts'
import type { Libp2p } from 'libp2p'
import type { Logger } from '../logger.ts'

/**
 * A relay's announcement in the DHT: it provides the well-known relay key
 * ({@link relayKey}), so that shares find it without a list. Announced at
 * start (retried with backoff until a DHT peer takes it), again every
 * {@link REPUBLISH_INTERVAL} (provider records expire) and after an address
 * change (a provider record carries the provider's addresses).
 */

/** Shortest time between two announcements triggered by address changes, in ms. */
export const MIN_READVERTISE_GAP = 60_000

/** What a {@link RelayAdvertiser} reports. */
export interface RelayAdvertiserEvents {
  /** The relay key was provided. */
  advertised: (e: { ms: number }) => void
  /** An announcement failed; the next is in `retryMs`. */
  failed: (e: { error: string, retryMs: number }) => void
}

/** Components and options of a {@link RelayAdvertiser}. */
export interface RelayAdvertiserInit {
  /** The relay node's libp2p (content routing, self events). */
  libp2p: Pick<Libp2p, 'contentRouting' | 'addEventListener' | 'removeEventListener'>
  /** Resolves once the DHT has a peer to send the record to; bounded by the signal. */
  waitForDhtPeer: (signal: AbortSignal) => Promise<void>
  /** Where to log. */
  log: Logger
  /** Told of each announcement and failure. @default none */
  events?: Partial<RelayAdvertiserEvents>
  /** Announce again this often, in ms. @default REPUBLISH_INTERVAL (30 min) */
  republishInterval?: number
  /** Wait after an address change before announcing again, in ms. @default 2000 */
  settleDelay?: number
}

/** Keeps a relay announced under the relay key until {@link stop}. */
export class RelayAdvertiser {
  private readonly init: RelayAdvertiserInit
  private readonly republishInterval: number
  private readonly settleDelay: number
  private controller: AbortController | undefined

  constructor (init: RelayAdvertiserInit) {
    this.init = init
    this.republishInterval = init.republishInterval ?? REPUBLISH_INTERVAL
    this.settleDelay = init.settleDelay ?? 2000
  }

  /** Start announcing (once; nothing if already running). Ends with {@link stop} or `signal`. */
  start (signal?: AbortSignal): void {
    if (this.controller != null) return
    const ctl = new AbortController()
    this.controller = ctl
    signal?.addEventListener('abort', () => { ctl.abort() }, { once: true })
    void this.loop(ctl.signal)
  }

  /** Stop announcing (the records left in the DHT expire by themselves). */
  stop (): void {
    this.controller?.abort()
  }

  private async loop (stopped: AbortSignal): Promise<void> {
    const { libp2p, log } = this.init
    const timer = new WakeableSleep()
    let dirty = true
    const onChange = (): void => { dirty = true; timer.wake() }
    libp2p.addEventListener('self:peer:update', onChange)
    stopped.addEventListener('abort', () => { libp2p.removeEventListener('self:peer:update', onChange); timer.wake() }, { once: true })
    let failures = 0
    let lastOk = 0
    while (!stopped.aborted) {
      if (dirty || Date.now() - lastOk >= this.republishInterval) {
        // an address change: let it settle, and announce at most once a minute for such changes
        if (lastOk !== 0 && failures === 0) await timer.sleep(Math.max(this.settleDelay, lastOk + MIN_READVERTISE_GAP - Date.now()))
        if (stopped.aborted) break
        dirty = false
        const start = Date.now()
        try {
          const signal = AbortSignal.any([stopped, AbortSignal.timeout(PUBLISH_TIMEOUT)])
          await this.init.waitForDhtPeer(signal)
          await libp2p.contentRouting.provide(await relayKey(), { signal })
          failures = 0
          lastOk = Date.now()
          log.info({ ms: lastOk - start }, 'relay announced in the DHT: shares can find it without a list')
          this.init.events?.advertised?.({ ms: lastOk - start })
        } catch (err) {
          if (stopped.aborted) break
          failures++
          dirty = true
          const retryMs = publishRetryDelay(failures)
          log.warn({ err: (err as Error).message, retryS: retryMs / 1000 }, 'could not announce the relay in the DHT yet; retrying')
          this.init.events?.failed?.({ error: (err as Error).message, retryMs })
          await timer.sleep(retryMs)
          continue
        }
      }
      await timer.sleep(dirty ? 0 : this.republishInterval)
    }
  }
}

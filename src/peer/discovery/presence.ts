import { publish } from './discovery.ts'
import { REPUBLISH_INTERVAL } from '../constants.ts'
import type { Libp2p } from 'libp2p'
import type { BeamServices } from '../libp2p/libp2p-options.ts'
import type { Logger } from '../logger.ts'

/**
 * This node's presence in the DHT: filling the routing table once a first
 * DHT peer is known (warm-up), and keeping the node findable under its peer
 * id and names (publishing, with its own schedule: retry with backoff, again
 * every {@link REPUBLISH_INTERVAL} and after each address change).
 */

/** Wait after an address change before announcing again, in ms: reservations come in one by one. */
export const PUBLISH_SETTLE_DELAY = 2000
/** Bound of one announcement (and of the wait for a DHT peer before it), in ms. */
export const PUBLISH_TIMEOUT = 60_000
/** Longest wait between two failed announcements, in ms. */
export const MAX_PUBLISH_RETRY_DELAY = 60_000
/** Bound of the warm-up walk (with its wait for a first DHT peer), in ms. */
export const WARM_UP_TIMEOUT = 60_000
/** How often {@link DhtPresence.waitForDhtPeer} looks at the routing table, in ms. */
const DHT_PEER_POLL = 25

/** Wait before the next announcement after `failures` failed ones in a row, in ms: 2 s, 4 s, … up to a minute. */
export function publishRetryDelay (failures: number): number {
  return Math.min(1000 * 2 ** Math.min(failures, 6), MAX_PUBLISH_RETRY_DELAY)
}

/**
 * A sleep that {@link wake} cuts short: the publishing schedule sleeps until
 * the next announcement is due, and an address change wakes it. The timer is
 * unref'd (it never keeps the process alive).
 */
export class WakeableSleep {
  private wakeUp: (() => void) | undefined

  /** Sleep `ms`, or until {@link wake}. */
  async sleep (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { this.wakeUp = undefined; resolve() }, ms)
      t.unref()
      this.wakeUp = () => { clearTimeout(t); this.wakeUp = undefined; resolve() }
    })
  }

  /** End the current sleep now (nothing if none is running). */
  wake (): void {
    this.wakeUp?.()
  }
}

/** What {@link DhtPresence} reports to its owner. */
export interface DhtPresenceEvents {
  /** The node was announced. */
  published: (e: { ms: number, names: string[] }) => void
  /** An announcement failed; the next is in `retryMs`. */
  publishFailed: (e: { error: string, retryMs: number }) => void
}

/** Components of a {@link DhtPresence}. */
export interface DhtPresenceInit {
  /** The node's libp2p (its DHT service, peer and content routing, self events). */
  libp2p: Libp2p<BeamServices>
  /** Where to log. */
  log: Logger
  /** Told of each announcement and failure. */
  events: DhtPresenceEvents
}

/** The part of kad-dht read here: the KadDHT class has it, the service interface does not. */
type WithRoutingTable = { routingTable?: { size?: number } } | undefined

/** Warm-up and publishing of one node in the DHT. Stopped with {@link stop}. */
export class DhtPresence {
  private readonly libp2p: Libp2p<BeamServices>
  private readonly log: Logger
  private readonly events: DhtPresenceEvents
  private publishing: AbortController | undefined
  private warmUp: AbortController | undefined

  constructor (init: DhtPresenceInit) {
    this.libp2p = init.libp2p
    this.log = init.log
    this.events = init.events
  }

  /** Whether the node runs the DHT. */
  get enabled (): boolean { return this.libp2p.services.dht != null }

  /**
   * Wait until the DHT's routing table holds a peer, so that a query does not
   * fail at once for want of one (a fresh node is still dialling its
   * bootstrap nodes). Bounded by `signal`.
   */
  async waitForDhtPeer (signal: AbortSignal): Promise<void> {
    const dht = this.libp2p.services.dht as WithRoutingTable
    for (;;) {
      if ((dht?.routingTable?.size ?? 1) > 0) return
      signal.throwIfAborted()
      await new Promise(resolve => setTimeout(resolve, DHT_PEER_POLL))
    }
  }

  /**
   * Fill the DHT routing table once the first DHT peer is known: a walk
   * towards this node's own id. Runs in the background, once; bounded by
   * {@link WARM_UP_TIMEOUT}.
   */
  startWarmUp (): void {
    if (this.warmUp != null) return
    const ctl = new AbortController()
    this.warmUp = ctl
    const signal = AbortSignal.any([ctl.signal, AbortSignal.timeout(WARM_UP_TIMEOUT)])
    void (async () => {
      await this.waitForDhtPeer(signal)
      let n = 0
      for await (const _ of this.libp2p.peerRouting.getClosestPeers(this.libp2p.peerId.toMultihash().bytes, { signal })) n++
      this.log.debug({ peers: n }, 'DHT routing table filled')
    })().catch((err: Error) => { if (!ctl.signal.aborted) this.log.debug({ err: err.message }, 'DHT warm-up walk ended early') })
  }

  /**
   * Keep the node findable under its peer id (and `names`): announce now,
   * retry with backoff until it works, then again every
   * {@link REPUBLISH_INTERVAL} and whenever the node's addresses change.
   * Once per node; nothing when the DHT is off.
   */
  startPublishing (names: string[] = []): void {
    if (!this.enabled || this.publishing != null) return
    if (this.warmUp == null) this.startWarmUp()
    const ctl = new AbortController()
    this.publishing = ctl
    void this.publishLoop(names, ctl.signal)
  }

  /** Stop publishing and the warm-up walk. */
  stop (): void {
    this.publishing?.abort()
    this.warmUp?.abort()
  }

  private async publishLoop (names: string[], stopped: AbortSignal): Promise<void> {
    const timer = new WakeableSleep()
    let dirty = true
    const onChange = (): void => { dirty = true; timer.wake() }
    this.libp2p.addEventListener('self:peer:update', onChange)
    stopped.addEventListener('abort', () => { this.libp2p.removeEventListener('self:peer:update', onChange); timer.wake() })
    let failures = 0
    let lastOk = 0
    while (!stopped.aborted) {
      if (dirty || Date.now() - lastOk >= REPUBLISH_INTERVAL) {
        // let address changes settle (reservations come in one by one)
        await timer.sleep(failures === 0 && lastOk !== 0 ? PUBLISH_SETTLE_DELAY : 0)
        dirty = false
        const start = Date.now()
        try {
          const pubSignal = AbortSignal.any([stopped, AbortSignal.timeout(PUBLISH_TIMEOUT)])
          await this.waitForDhtPeer(pubSignal)
          await publish(this.libp2p, names, { signal: pubSignal })
          failures = 0
          lastOk = Date.now()
          this.log.info({ ms: lastOk - start, names }, 'published in the DHT: this peer can be found by its id')
          this.events.published({ ms: lastOk - start, names })
        } catch (err) {
          if (stopped.aborted) break
          failures++
          dirty = true
          const retryMs = publishRetryDelay(failures)
          this.log.warn({ err: (err as Error).message, retryS: retryMs / 1000 }, 'could not publish in the DHT yet (no DHT server reached?); retrying')
          this.events.publishFailed({ error: (err as Error).message, retryMs })
          await timer.sleep(retryMs)
          continue
        }
      }
      await timer.sleep(dirty ? 0 : REPUBLISH_INTERVAL)
    }
  }
}

import { publish } from './discovery.ts'
import { REPUBLISH_INTERVAL } from '../constants.ts'
import { addressSet, addressesDiffer, nextPublishDelay } from './publish-schedule.ts'
import type { PublishIntervals, PublishState } from './publish-schedule.ts'
import type { Libp2p } from 'libp2p'
import type { PeerUpdate } from '@libp2p/interface'
import type { BeamServices } from '../libp2p/libp2p-options.ts'
import type { Logger } from '../logger.ts'

/**
 * This node's presence in the DHT: filling the routing table once a first
 * DHT peer is known (warm-up), and keeping the node findable under its peer
 * id and names (publishing, on the schedule of publish-schedule.ts: at once,
 * retried with backoff, again every {@link REPUBLISH_INTERVAL} (22 h, the
 * public network's) and soon after each change of the node's addresses).
 */

export { PUBLISH_SETTLE_DELAY, MAX_PUBLISH_RETRY_DELAY, MIN_REPUBLISH_GAP, publishRetryDelay } from './publish-schedule.ts'
/** Bound of one announcement (and of the wait for a DHT peer before it), in ms. */
export const PUBLISH_TIMEOUT = 60_000
/** Bound of the warm-up walk (with its wait for a first DHT peer), in ms. */
export const WARM_UP_TIMEOUT = 60_000
/** How often {@link DhtPresence.waitForDhtPeer} looks at the routing table, in ms. */
const DHT_PEER_POLL = 25

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
  /** The schedule's intervals. @default beam's (REPUBLISH_INTERVAL, PUBLISH_SETTLE_DELAY, MIN_REPUBLISH_GAP) */
  intervals?: PublishIntervals
}

/** The part of kad-dht read here: the KadDHT class has it, the service interface does not. */
type WithRoutingTable = { routingTable?: { size?: number } } | undefined

/** Warm-up and publishing of one node in the DHT. Stopped with {@link stop}. */
export class DhtPresence {
  private readonly libp2p: Libp2p<BeamServices>
  private readonly log: Logger
  private readonly events: DhtPresenceEvents
  private readonly intervals: PublishIntervals
  private publishing: AbortController | undefined
  private warmUp: AbortController | undefined

  constructor (init: DhtPresenceInit) {
    this.libp2p = init.libp2p
    this.log = init.log
    this.events = init.events
    this.intervals = init.intervals ?? {}
  }

  /** Whether the node runs the DHT. */
  get enabled (): boolean { return this.libp2p.services.dht != null }

  /** Peers in the DHT's routing table now (0 without a DHT). */
  get peerCount (): number {
    if (!this.enabled) return 0
    return (this.libp2p.services.dht as WithRoutingTable)?.routingTable?.size ?? 0
  }

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
    const state: PublishState = { failures: 0 }
    let seen = addressSet(await this.libp2p.peerStore.get(this.libp2p.peerId).catch(() => undefined))
    if (stopped.aborted) return
    const onChange = (evt: CustomEvent<PeerUpdate>): void => {
      // only the addresses matter to a provider record (protocols change too)
      const now = addressSet(evt.detail.peer)
      if (!addressesDiffer(now, seen)) return
      seen = now
      state.changedAt = Date.now()
      timer.wake()
    }
    this.libp2p.addEventListener('self:peer:update', onChange)
    stopped.addEventListener('abort', () => { this.libp2p.removeEventListener('self:peer:update', onChange); timer.wake() })
    while (!stopped.aborted) {
      const wait = nextPublishDelay(state, Date.now(), this.intervals)
      if (wait > 0) {
        // an address change wakes the sleep: the delay is computed again
        await timer.sleep(wait)
        continue
      }
      const start = Date.now()
      state.changedAt = undefined
      try {
        const pubSignal = AbortSignal.any([stopped, AbortSignal.timeout(PUBLISH_TIMEOUT)])
        await this.waitForDhtPeer(pubSignal)
        await publish(this.libp2p, names, { signal: pubSignal })
        state.failures = 0
        state.lastOk = start
        const ms = Date.now() - start
        this.log.info({ ms, names, nextS: Math.round(nextPublishDelay(state, Date.now(), this.intervals) / 1000) }, 'published in the DHT: this peer can be found by its id')
        this.events.published({ ms, names })
      } catch (err) {
        if (stopped.aborted) break
        state.failures++
        state.lastFailure = Date.now()
        const retryMs = nextPublishDelay(state, state.lastFailure, this.intervals)
        this.log.warn({ err: (err as Error).message, retryS: retryMs / 1000 }, 'could not publish in the DHT yet (no DHT server reached?); retrying')
        this.events.publishFailed({ error: (err as Error).message, retryMs })
      }
    }
  }
}

import { peerIdFromString } from '@libp2p/peer-id'
import { classifyReachability } from './reachability.ts'
import { queryRelayTerms } from './relay-limits.ts'
import type { HeldRelay, OwnAddress, Reachability } from './reachability.ts'
import type { RelayTerms } from './relay-limits.ts'
import type { Connection } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Logger } from '../logger.ts'

/**
 * Keeps a node's {@link Reachability} current: learns each new relay
 * reservation's terms (limited or not, see relay-limits.ts), forgets a lost
 * one, and reports when the classification changes.
 */

/** What {@link ReachabilityTracker} needs. */
export interface ReachabilityTrackerInit {
  /** The node's libp2p (connections to relays). */
  libp2p: Pick<Libp2p, 'getConnections'>
  /** The node's own addresses with where each comes from. */
  addresses: () => OwnAddress[]
  /** Relays holding a reservation for this node now (peer ids). */
  relays: () => string[]
  /** Told of each change of the classification. */
  onChange: (r: Reachability) => void
  /** Where to log. */
  log: Logger
  /**
   * Whether a relay is limited, when another part already learned it (the
   * relay finder checks each relay's reservation answer): no second question
   * to the relay. @default nothing is known
   */
  known?: (relay: string) => boolean | undefined
  /** Asks a relay for its terms (tests replace it). @default queryRelayTerms */
  query?: (connection: Connection, options: { signal?: AbortSignal }) => Promise<RelayTerms>
}

/** A node's reachability, kept up to date. */
export class ReachabilityTracker {
  private readonly init: ReachabilityTrackerInit
  private readonly query: NonNullable<ReachabilityTrackerInit['query']>
  /** Each reserved relay's `limited`, once its answer came. */
  private readonly terms = new Map<string, boolean>()
  private readonly pending = new Map<string, Promise<void>>()
  private readonly stop = new AbortController()
  private last: Reachability | undefined

  constructor (init: ReachabilityTrackerInit) {
    this.init = init
    this.query = init.query ?? queryRelayTerms
  }

  /** The classification now. */
  get current (): Reachability {
    const relays: HeldRelay[] = this.init.relays().map(relay => ({ relay, limited: this.terms.get(relay) }))
    return classifyReachability({ addresses: this.init.addresses(), relays })
  }

  /** A relay granted a reservation: learn its terms in the background. */
  reserved (relay: string): void {
    if (this.pending.has(relay) || this.terms.has(relay)) return
    const p = this.learn(relay).finally(() => { this.pending.delete(relay); this.refresh() })
    this.pending.set(relay, p)
  }

  /**
   * A reservation went away. No re-classification here: the monitor reports
   * a loss before it updates its relay set, and calls {@link refresh} (by
   * way of the `addresses` report) right after.
   */
  lost (relay: string): void {
    this.terms.delete(relay)
  }

  /** Re-classify; reports a change. */
  refresh (): void {
    const now = this.current
    if (now === this.last) return
    this.last = now
    this.init.onChange(now)
  }

  /** Wait (at most `timeoutMs`) until the terms of every reservation held now are known. */
  async settle (timeoutMs: number): Promise<void> {
    const waiting = [...this.pending.values()]
    if (waiting.length === 0) return
    await Promise.race([Promise.allSettled(waiting), new Promise(resolve => setTimeout(resolve, timeoutMs).unref())])
  }

  /** Stop asking relays. */
  close (): void {
    this.stop.abort()
  }

  private async learn (relay: string): Promise<void> {
    const known = this.init.known?.(relay)
    if (known != null) {
      this.terms.set(relay, known)
      return
    }
    try {
      const conn = this.init.libp2p.getConnections(peerIdFromString(relay)).find(c => c.status === 'open' && c.limits == null)
      if (conn == null) return
      const t = await this.query(conn, { signal: this.stop.signal })
      // a relay that no longer grants the reservation is left unknown (counted as limited)
      if (!t.ok) return
      this.terms.set(relay, t.limited)
      this.init.log.debug({ relay, limited: t.limited, dataBytes: t.dataBytes, duration: t.duration }, 'relay reservation terms')
    } catch (err) {
      this.init.log.debug({ relay, err: (err as Error).message }, 'relay reservation terms unknown')
    }
  }
}

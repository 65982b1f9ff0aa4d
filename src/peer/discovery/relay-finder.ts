import { DEFAULT_SHARE_RESERVATIONS, HOP_PROTOCOL, RELAY_STATUS, isLimited, requestReservation } from '../../relay/index.ts'
import { relayKey } from './discovery.ts'
import { WakeableSleep } from './presence.ts'
import { byRtt, chooseRelays } from './relay-choice.ts'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { BeamServices } from '../libp2p/libp2p-options.ts'
import type { Logger } from '../logger.ts'
import type { CheckedRelay, RelayKind } from './relay-choice.ts'

/**
 * Finding and holding relays without a list. Candidates come from the
 * bootstrap nodes that run a relay (as soon as identify says so), from the
 * DHT (providers of the well-known relay key, which `beam relay` announces)
 * and, in the DHT rounds while nothing is held, from any connected peer that
 * runs a relay. Each
 * candidate is checked once in a while: a direct connection, a ping (its
 * round trip), a reservation request (granted? with a limit?). The node then
 * holds the relays {@link chooseRelays} picks (two full ones, the lowest RTT
 * first, or one limited one for signalling while no full one is known),
 * replaces one that dies (its connection closed or its reservation ended) and
 * looks in the DHT again every {@link DEFAULT_RELAY_LOOKUP_INTERVAL} while it
 * holds fewer full relays than it wants.
 */

/** Relays a share holds by default. */
export const DEFAULT_RELAYS_WANTED = DEFAULT_SHARE_RESERVATIONS
/** How often the DHT is searched for relays while fewer full ones than wanted are held, in ms. */
export const DEFAULT_RELAY_LOOKUP_INTERVAL = 60_000
/** Bound of one DHT search for relays, in ms. */
export const DEFAULT_RELAY_LOOKUP_TIMEOUT = 30_000
/** Bound of one candidate check (dial, ping, reservation request), in ms. */
export const DEFAULT_RELAY_CHECK_TIMEOUT = 10_000
/** Candidates checked at most per round (DHT answer or identify event). */
export const DEFAULT_RELAY_MAX_CHECKS = 8
/** How long a check's answer (good or bad) is trusted before the relay is checked again, in ms. */
export const DEFAULT_RELAY_RECHECK_AFTER = 10 * 60_000
/** Providers read from one DHT answer at most (the public DHT may hold many). */
const MAX_PROVIDERS = 32

/** What a {@link RelayFinder} reports. */
export interface RelayFinderEvents {
  /** A relay is held now (its reservation is among the node's addresses). */
  held: (e: { relay: string, kind: CheckedRelay['kind'], rttMs: number }) => void
  /** A held relay was lost (`reason`) or let go for a better one (`reason: 'replaced'`). */
  released: (e: { relay: string, reason: string }) => void
  /** A DHT search for relays ended (`found` providers, checked or not). */
  searched: (e: { found: number, error?: string }) => void
}

/** Tuning of the relay finder a node with reservations runs (`BeamInit.relayFinder`); every field has its default. */
export interface RelayFinderOptions {
  /** DHT search interval while fewer full relays than wanted are held, in ms. @default 60000 */
  lookupInterval?: number
  /** Bound of one DHT search, in ms. @default 30000 */
  lookupTimeout?: number
  /** Bound of one candidate check (dial, ping, reservation request), in ms. @default 10000 */
  checkTimeout?: number
  /** Candidates checked at most per round. @default 8 */
  maxChecks?: number
  /** How long a check's answer (good or bad) is trusted before the relay is checked again, in ms. @default 600000 */
  recheckAfter?: number
}

/** Components and options of a {@link RelayFinder}. */
export interface RelayFinderInit extends RelayFinderOptions {
  /** The node's libp2p: dials, ping, content routing, events. */
  libp2p: Libp2p<BeamServices>
  /** The node's bootstrap nodes: those that run a relay are candidates at once. @default [] */
  bootstrap?: Multiaddr[]
  /** Take a reservation on this (connected) relay and listen through it; rejects if the relay refuses. */
  listenOn: (relay: PeerId, signal: AbortSignal) => Promise<void>
  /** The node's relayed addresses now (`…/p2p/<relay>/p2p-circuit`). */
  relayedAddrs: () => Multiaddr[]
  /** Resolves once the DHT has a peer to ask; bounded by the signal. Unset: the DHT is not searched. */
  waitForDhtPeer?: (signal: AbortSignal) => Promise<void>
  /** Where to log. */
  log: Logger
  /** Told when relays are held and released. @default none */
  events?: Partial<RelayFinderEvents>
  /** Full relays to hold. @default DEFAULT_RELAYS_WANTED (2) */
  want?: number
}

/** A candidate: a peer id and the addresses it came with (a DHT provider's). */
interface Candidate { id: PeerId, multiaddrs?: Multiaddr[] }

/** A relay the node holds a reservation on. */
interface Held { relay: CheckedRelay, confirmed: boolean }

/** The relay's peer id of a circuit address (the last `/p2p/` before `/p2p-circuit`). */
function relayOf (ma: Multiaddr): string | undefined {
  const parts = ma.getComponents()
  const at = parts.findIndex(c => c.name === 'p2p-circuit')
  return at < 0 ? undefined : parts.slice(0, at).findLast(c => c.name === 'p2p')?.value
}

/** Whether a connection passes through a relay or carries a limit (no place to reserve on). */
function indirect (c: Connection): boolean {
  return c.limits != null || c.remoteAddr.getComponents().some(p => p.name === 'p2p-circuit')
}

/** Finds relays and holds the best of them; see the module comment. */
export class RelayFinder {
  private readonly libp2p: Libp2p<BeamServices>
  private readonly init: RelayFinderInit
  private readonly log: Logger
  private readonly want: number
  private readonly lookupInterval: number
  private readonly lookupTimeout: number
  private readonly checkTimeout: number
  private readonly maxChecks: number
  private readonly recheckAfter: number
  private readonly bootstrapIds: Set<string>
  private readonly held = new Map<string, Held>()
  private readonly checked = new Map<string, { relay: CheckedRelay, peer: PeerId, at: number }>()
  private readonly failed = new Map<string, number>()
  private readonly timer = new WakeableSleep()
  private queue: Promise<void> = Promise.resolve()
  private controller: AbortController | undefined
  private searchedOnce = false

  constructor (init: RelayFinderInit) {
    this.init = init
    this.libp2p = init.libp2p
    this.log = init.log
    this.want = init.want ?? DEFAULT_RELAYS_WANTED
    this.lookupInterval = init.lookupInterval ?? DEFAULT_RELAY_LOOKUP_INTERVAL
    this.lookupTimeout = init.lookupTimeout ?? DEFAULT_RELAY_LOOKUP_TIMEOUT
    this.checkTimeout = init.checkTimeout ?? DEFAULT_RELAY_CHECK_TIMEOUT
    this.maxChecks = init.maxChecks ?? DEFAULT_RELAY_MAX_CHECKS
    this.recheckAfter = init.recheckAfter ?? DEFAULT_RELAY_RECHECK_AFTER
    this.bootstrapIds = new Set((init.bootstrap ?? []).map(ma => ma.getComponents().findLast(c => c.name === 'p2p')?.value).filter((x): x is string => x != null))
  }

  /** The relays held now, best first. */
  /** What this finder's own check of `relay` found (its reservation answer), if it checked it. */
  kindOf (relay: string): RelayKind | undefined {
    return this.held.get(relay)?.relay.kind ?? this.checked.get(relay)?.relay.kind
  }

  get relays (): CheckedRelay[] {
    return [...this.held.values()].map(h => h.relay).sort((a, b) => (a.kind === b.kind ? byRtt(a, b) : a.kind === 'full' ? -1 : 1))
  }

  /** True until the first DHT search has ended (false when the DHT is not searched): relays may still come from it. */
  get searching (): boolean {
    return this.init.waitForDhtPeer != null && !this.searchedOnce && this.controller?.signal.aborted !== true
  }

  /** Start finding relays (once). Ends with {@link stop} or `signal`. */
  start (signal?: AbortSignal): void {
    if (this.controller != null || this.want < 1) return
    const ctl = new AbortController()
    this.controller = ctl
    signal?.addEventListener('abort', () => { this.stop() }, { once: true })
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    this.libp2p.addEventListener('connection:close', this.onClose)
    this.libp2p.addEventListener('self:peer:update', this.onAddresses)
    // bootstrap nodes identified before the start
    for (const c of this.libp2p.getConnections()) {
      if (this.bootstrapIds.has(c.remotePeer.toString())) this.consider([{ id: c.remotePeer }])
    }
    if (this.init.waitForDhtPeer != null) void this.lookupLoop(ctl.signal)
  }

  /** Stop looking and checking (reservations held stay until the node stops). */
  stop (): void {
    if (this.controller == null || this.controller.signal.aborted) return
    this.controller.abort()
    this.timer.wake()
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.libp2p.removeEventListener('connection:close', this.onClose)
    this.libp2p.removeEventListener('self:peer:update', this.onAddresses)
  }

  /** Resolves when the checks and changes queued so far are done (tests, status). */
  async settled (): Promise<void> {
    await this.queue
  }

  private readonly onIdentify = (evt: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
    const { peerId, protocols } = evt.detail
    // bootstrap relays at once (as libp2p's own relay discovery did); other
    // relays met by chance only in the DHT rounds, while nothing is held
    if (protocols.includes(HOP_PROTOCOL) && this.bootstrapIds.has(peerId.toString())) this.consider([{ id: peerId }])
  }

  private readonly onClose = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer
    if (!this.held.has(peer.toString())) return
    if (this.libp2p.getConnections(peer).length > 0) return
    this.lost(peer.toString(), 'connection closed')
  }

  private readonly onAddresses = (): void => {
    const through = new Set(this.init.relayedAddrs().map(relayOf).filter((x): x is string => x != null))
    for (const [id, h] of this.held) {
      if (through.has(id)) h.confirmed = true
      else if (h.confirmed) this.lost(id, 'reservation ended')
    }
    // a reservation that came through after its hold timed out: count it as held
    let adopted = false
    for (const id of through) {
      const entry = this.checked.get(id)
      if (this.held.has(id) || entry == null) continue
      this.held.set(id, { relay: entry.relay, confirmed: true })
      this.failed.delete(id)
      adopted = true
    }
    // holding more than chooseRelays wants: let the extra go
    if (adopted) this.consider([])
  }

  private lost (id: string, reason: string): void {
    if (!this.held.delete(id)) return
    this.checked.delete(id)
    this.failed.set(id, Date.now())
    this.log.info({ relay: id, reason }, 'relay lost; looking for another')
    this.init.events?.released?.({ relay: id, reason })
    // a replacement from the relays checked already, then a DHT search if still short
    this.consider([])
    this.timer.wake()
  }

  /** Queue a round: check the new candidates, then hold what {@link chooseRelays} says. */
  private consider (candidates: Candidate[]): void {
    const signal = this.controller?.signal
    if (signal == null || signal.aborted) return
    this.queue = this.queue.then(async () => { await this.round(candidates, signal) }).catch((err: Error) => {
      if (!signal.aborted) this.log.warn({ err: err.message }, 'relay round failed')
    })
  }

  private fresh (at: number | undefined): boolean {
    return at != null && Date.now() - at < this.recheckAfter
  }

  private async round (candidates: Candidate[], signal: AbortSignal): Promise<void> {
    const self = this.libp2p.peerId.toString()
    const seen = new Set<string>()
    const toCheck = candidates.filter(c => {
      const id = c.id.toString()
      if (id === self || seen.has(id) || this.held.has(id)) return false
      seen.add(id)
      return !this.fresh(this.failed.get(id)) && !this.fresh(this.checked.get(id)?.at)
    }).slice(0, this.maxChecks)
    await Promise.all(toCheck.map(async c => { await this.check(c, signal) }))
    if (signal.aborted) return
    await this.apply(signal)
  }

  /** Dial, ping and ask for a reservation; the answer goes to {@link checked} or {@link failed}. */
  private async check (c: Candidate, stopped: AbortSignal): Promise<void> {
    const id = c.id.toString()
    const signal = AbortSignal.any([stopped, AbortSignal.timeout(this.checkTimeout)])
    try {
      if (c.multiaddrs != null && c.multiaddrs.length > 0) await this.libp2p.peerStore.merge(c.id, { multiaddrs: c.multiaddrs })
      let conn = this.libp2p.getConnections(c.id).find(x => !indirect(x))
      conn ??= await this.libp2p.dial(c.id, { signal })
      if (indirect(conn)) throw new Error('no direct connection')
      // RTT by ping; a relay that runs no ping service is timed by its reservation answer
      const pinged = await this.libp2p.services.ping.ping(c.id, { signal }).catch((err: Error) => {
        if (signal.aborted) throw err
        return undefined
      })
      const asked = performance.now()
      const answer = await requestReservation(conn, { signal })
      const rttMs = pinged ?? performance.now() - asked
      if (answer.status !== 100) throw new Error(`reservation refused (${RELAY_STATUS[answer.status] ?? answer.status})`)
      const relay: CheckedRelay = { peerId: id, rttMs: Math.round(rttMs), kind: isLimited(answer.limit) ? 'limited' : 'full' }
      this.checked.set(id, { relay, peer: c.id, at: Date.now() })
      this.log.debug({ relay: id, rttMs: relay.rttMs, kind: relay.kind, ...(answer.limit != null ? { limit: answer.limit } : {}) }, 'relay candidate checked')
    } catch (err) {
      if (stopped.aborted) return
      this.failed.set(id, Date.now())
      this.log.debug({ relay: id, err: (err as Error).message }, 'relay candidate unusable')
    }
  }

  /** Hold and drop relays until the held set is what {@link chooseRelays} wants (or no candidate is left). */
  private async apply (signal: AbortSignal): Promise<void> {
    for (let guard = 0; guard <= this.checked.size + this.held.size && !signal.aborted; guard++) {
      // a limited relay is held at once while no full one is: the share is then
      // reachable for signalling (a direct path) instead of not at all, and
      // chooseRelays lets it go as soon as a full relay is held
      const candidates = [...this.checked.values()]
        .filter(e => this.fresh(e.at) && !this.fresh(this.failed.get(e.relay.peerId)))
        .map(e => e.relay)
      const { add, drop } = chooseRelays([...this.held.values()].map(h => h.relay), candidates, this.want)
      for (const id of drop) {
        this.held.delete(id)
        // forgotten, so that its addresses, still there until the connection closes, are not adopted again
        this.checked.delete(id)
        this.log.info({ relay: id }, 'letting a relay go: a better one is held')
        this.init.events?.released?.({ relay: id, reason: 'replaced' })
        // closing the connection ends the reservation (the transport forgets it)
        const peer = this.libp2p.getConnections().find(c => c.remotePeer.toString() === id)?.remotePeer
        if (peer != null) await this.libp2p.hangUp(peer).catch(() => {})
      }
      const next = add[0]
      if (next == null) return
      await this.hold(next, signal)
    }
  }

  private async hold (relay: CheckedRelay, stopped: AbortSignal): Promise<void> {
    const signal = AbortSignal.any([stopped, AbortSignal.timeout(this.checkTimeout)])
    const peer = this.checked.get(relay.peerId)?.peer
    try {
      if (peer == null) throw new Error('not checked')
      await this.init.listenOn(peer, signal)
      const confirmed = this.init.relayedAddrs().some(ma => relayOf(ma) === relay.peerId)
      this.held.set(relay.peerId, { relay, confirmed })
      this.log.info({ relay: relay.peerId, kind: relay.kind, rttMs: relay.rttMs }, relay.kind === 'full' ? 'relay held' : 'limited relay held, for signalling only (no full relay found)')
      this.init.events?.held?.({ relay: relay.peerId, kind: relay.kind, rttMs: relay.rttMs })
    } catch (err) {
      if (stopped.aborted) return
      // the check stays known: a reservation that still comes through is adopted (onAddresses)
      this.failed.set(relay.peerId, Date.now())
      this.log.debug({ relay: relay.peerId, err: (err as Error).message }, 'could not hold a reservation on a relay')
    }
  }

  private fullHeld (): number {
    let n = 0
    for (const h of this.held.values()) if (h.relay.kind === 'full') n++
    return n
  }

  /** Search the DHT while fewer full relays than wanted are held; sleep otherwise (a loss wakes it). */
  private async lookupLoop (stopped: AbortSignal): Promise<void> {
    const waitForDhtPeer = this.init.waitForDhtPeer
    if (waitForDhtPeer == null) return
    while (!stopped.aborted) {
      if (this.fullHeld() < this.want) {
        const signal = AbortSignal.any([stopped, AbortSignal.timeout(this.lookupTimeout)])
        const found: Candidate[] = []
        let error: string | undefined
        try {
          await waitForDhtPeer(signal)
          for await (const p of this.libp2p.contentRouting.findProviders(await relayKey(), { signal })) {
            found.push({ id: p.id, multiaddrs: p.multiaddrs })
            if (found.length >= MAX_PROVIDERS) break
          }
        } catch (err) {
          if (stopped.aborted) return
          if (found.length === 0) error = (err as Error).message
        }
        this.log.debug({ found: found.length, ...(error != null ? { err: error } : {}) }, 'searched the DHT for relays')
        this.consider(found)
        // while nothing is held, a connected relay of any kind is better than none
        if (this.held.size === 0) this.consider(await this.connectedRelays())
        await this.queue
        if (!this.searchedOnce) {
          this.searchedOnce = true
          // the limited relays checked so far may be held now
          this.consider([])
          await this.queue
        }
        this.init.events?.searched?.({ found: found.length, ...(error != null ? { error } : {}) })
      }
      await this.timer.sleep(this.lookupInterval)
    }
  }

  /** Connected peers that identify says run a relay. */
  private async connectedRelays (): Promise<Candidate[]> {
    const out: Candidate[] = []
    for (const c of this.libp2p.getConnections()) {
      if (indirect(c)) continue
      const peer = await this.libp2p.peerStore.get(c.remotePeer).catch(() => undefined)
      if (peer?.protocols.includes(HOP_PROTOCOL) === true) out.push({ id: c.remotePeer })
    }
    return out
  }
}

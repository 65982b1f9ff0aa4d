import { once } from 'node:events'
import type { EventEmitter } from 'node:events'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { PeerUnreachableError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { bestConnection, pathOf, pingConnection, rankConnections, transportOf } from './path.ts'
import { isLimited } from './limits.ts'
import type { PathInfo } from './path.ts'
import type { ConnectEvents } from './events.ts'

/** How long a new connection has to answer a ping before it is passed over, in ms. */
export const VERIFY_TIMEOUT = 10_000

/** How long a connection under suspicion (a slow handshake on it) has to answer a ping before it is closed, in ms. */
export const SLOW_PING_TIMEOUT = 3000

/**
 * Shortest wait before a slow tunnel handshake puts its connection under
 * check, in ms (see {@link PathKeeper.slowMark}). A false alarm costs one
 * ping that answers.
 */
export const SLOW_HANDSHAKE_FLOOR = 1500

/**
 * How many round trips of its connection a tunnel handshake may take before
 * the connection is checked: the request and answer are one, the share's
 * connect to its service (usually on its own machine) and a loaded machine's
 * scheduling are the rest.
 */
export const SLOW_HANDSHAKE_RTTS = 8

/** Options and components of a {@link PathKeeper}. */
export interface PathKeeperInit {
  /** The node whose connections to the peer are watched. */
  libp2p: Libp2p
  /** The peer. */
  peerId: PeerId
  /** Logger of the owning tunnel. */
  log: Logger
  /** Where `path` and `disconnected` events go (the owning tunnel). */
  events: EventEmitter<ConnectEvents>
  /** Dials the peer when no connection is open. */
  dial: (signal?: AbortSignal) => Promise<Connection>
  /**
   * Told of the chosen connection whenever it is a relayed one, and of the
   * limited connection when only limited ones are left (to try for a direct
   * path through its relay).
   */
  onRelayed: (relayed: Connection) => void
  /**
   * Called when only connections with limits (a limited relay's) reach the
   * peer and a tunnel stream needs one without: resolves with a connection
   * that may carry tunnels, or rejects (LimitedRelayOnlyError) when none
   * comes (DirectPathWait.wait).
   */
  waitDirect: (limited: Connection, signal?: AbortSignal) => Promise<Connection>
  /** Told when the last connection that carried tunnels is gone and no limited one is left (to redial). @default unset */
  onLost?: (() => void) | undefined
  /** Stops pings and path checks (the owner closed). */
  shutdown: AbortSignal
}

/**
 * Chooses the connection new tunnel streams take and keeps the `path` event
 * up to date. A connection carries new streams only once a ping on it has
 * come back (or a tunnel handshake on it has succeeded): in @libp2p/webrtc
 * 6.0.33 a failed attempt can leave an "open" WebRTC connection whose data
 * channel never opens, and streams on it would hang. Streams already open
 * stay where they are. A connection with limits (through a relay that
 * limits data or time) never carries a tunnel: it serves the probe and the
 * signalling of a direct path, and the path is what comes of that.
 */
export class PathKeeper {
  private readonly init: PathKeeperInit
  private currentPath: PathInfo | undefined
  private pathCheck: Promise<void> | undefined
  private pathDirty = false
  /** Connections (by id) that have carried a ping or a handshake. */
  private readonly verified = new Set<string>()
  /** The last ping's round trip per connection (by id), in ms. */
  private readonly rtts = new Map<string, number>()
  /** The ping in flight per connection (by id). */
  private readonly pings = new Map<string, Promise<number>>()
  /** Connections (by id) being checked after a slow handshake. */
  private readonly suspects = new Set<string>()
  private readonly onConnectionEvent: (evt: CustomEvent<Connection>) => void

  constructor (init: PathKeeperInit) {
    this.init = init
    this.onConnectionEvent = (evt) => {
      if (evt.detail.remotePeer.equals(init.peerId)) this.schedule()
    }
  }

  /** The path new streams take now, if connected. */
  get path (): PathInfo | undefined { return this.currentPath }

  /** Watch the peer's connections opening and closing. */
  start (): void {
    this.init.libp2p.addEventListener('connection:open', this.onConnectionEvent)
    this.init.libp2p.addEventListener('connection:close', this.onConnectionEvent)
  }

  /** Stop watching (path checks running end at `shutdown`). */
  stop (): void {
    this.init.libp2p.removeEventListener('connection:open', this.onConnectionEvent)
    this.init.libp2p.removeEventListener('connection:close', this.onConnectionEvent)
  }

  /**
   * A handshake on this connection is slow: ping it and the peer's other
   * connections (at most {@link SLOW_PING_TIMEOUT} ms) and close those that
   * do not answer, so that
   * the share is redialled now and not after the connection monitor's
   * timeouts. Its streams fail with it; they would have hung.
   */
  suspect (conn: Connection): void {
    // what makes one connection slow (the share moved, a NAT forgot it) likely
    // killed the others to the peer too: all are checked at once, so that the
    // redial starts after one ping timeout, not one per connection
    for (const c of [conn, ...this.init.libp2p.getConnections(this.init.peerId).filter(o => o.id !== conn.id)]) this.check1(c)
  }

  /** Ping one connection under suspicion; close it if it does not answer. */
  private check1 (conn: Connection): void {
    if (conn.status !== 'open' || this.suspects.has(conn.id)) return
    this.suspects.add(conn.id)
    const { log, shutdown } = this.init
    // the ping in flight, if any, is shared (a second ping stream would fail)
    this.verify(conn, AbortSignal.any([shutdown, AbortSignal.timeout(SLOW_PING_TIMEOUT)]))
      .then(() => {}, (err: Error) => {
        if (shutdown.aborted || conn.status !== 'open') return
        log.info({ remote: conn.remoteAddr.toString(), err: err.message }, 'a slow handshake, and the connection does not answer a ping: closing it and redialling')
        this.verified.delete(conn.id)
        conn.abort(new Error('the peer does not answer on this connection'))
      })
      .finally(() => { this.suspects.delete(conn.id) })
  }

  /**
   * How long a tunnel handshake on `conn` may take before the connection is
   * checked ({@link suspect}), in ms: {@link SLOW_HANDSHAKE_RTTS} round trips
   * of it (its last ping), at least {@link SLOW_HANDSHAKE_FLOOR} and at most
   * `ceiling`; `ceiling` when no ping has measured it. After a share moved,
   * the connector learns its connection is dead this much sooner (a third
   * of the handshake timeout, 3.3 s, on every path before).
   */
  slowMark (conn: Connection, ceiling: number): number {
    const rtt = this.rtts.get(conn.id)
    if (rtt == null) return ceiling
    return Math.min(ceiling, Math.max(SLOW_HANDSHAKE_FLOOR, Math.round(rtt * SLOW_HANDSHAKE_RTTS)))
  }

  /** A tunnel handshake went through on this connection: it carries streams. */
  markVerified (conn: Connection): void {
    this.verified.add(conn.id)
  }

  /**
   * A connection to the peer that is known to carry streams: the best one a
   * ping has already proven, else the first of the open ones to answer a ping
   * (dialling first if none is open). A connection that does not answer (the
   * WebRTC failure mode above) is closed and, if nothing else is left, the
   * peer is dialled once more. Connections with limits are passed over
   * unless `limited` is set (the probe); when they are all there is, this
   * waits for a direct path (`waitDirect`).
   */
  async connection (signal?: AbortSignal, options: { limited?: boolean } = {}): Promise<Connection> {
    const { libp2p, peerId, log } = this.init
    // the probe may go over a limited connection (it is signalling); a tunnel never does
    const usable = (conns: Connection[]): Connection[] => options.limited === true ? conns : conns.filter(c => !isLimited(c))
    for (let attempt = 0; attempt < 2; attempt++) {
      const open = libp2p.getConnections(peerId).filter(c => c.status === 'open')
      const proven = bestConnection(usable(open).filter(c => this.verified.has(c.id)))
      if (proven != null) return proven
      const all = open.length > 0 ? open : [await this.init.dial(signal)]
      let candidates = usable(all)
      if (candidates.length === 0) {
        // only a limited relay reaches the peer: it signals a direct path, which the tunnel waits for
        const limited = rankConnections(all)[0] ?? all[0]
        if (limited == null) continue
        candidates = [await this.init.waitDirect(limited, signal)]
      }
      const answered = await this.firstAnswering(candidates, signal)
      if (answered != null) return answered
      // Only WebRTC has the "open but dead" failure; a TCP/QUIC/relayed
      // connection that missed the ping deadline is slow, not dead: use it and
      // let the tunnel handshake (with its own timeout) be the proof.
      const plain = rankConnections(candidates.filter(c => transportOf(c.remoteAddr) !== 'webrtc'))[0]
      for (const c of candidates) {
        if (transportOf(c.remoteAddr) !== 'webrtc') continue
        log.info({ remote: c.remoteAddr.toString() }, 'WebRTC connection does not carry streams; closing it')
        c.abort(new Error('connection does not answer pings'))
      }
      if (plain != null) {
        log.warn({ remote: plain.remoteAddr.toString() }, 'no ping answer within the deadline; trying the connection anyway')
        return plain
      }
    }
    throw new PeerUnreachableError(peerId.toString(), 'connected, but no connection to the peer carries streams')
  }

  /** Check the path again soon (once the check running now, if any, is done). */
  schedule (): void {
    this.pathDirty = true
    if (this.pathCheck != null || this.init.shutdown.aborted) return
    this.pathCheck = (async () => {
      while (this.pathDirty && !this.init.shutdown.aborted) {
        this.pathDirty = false
        await this.check()
      }
    })().finally(() => { this.pathCheck = undefined })
  }

  /** Re-evaluate the path: from the best connection down, the first that answers a ping. */
  private async check (): Promise<void> {
    const { libp2p, peerId, log, events, shutdown } = this.init
    const open = libp2p.getConnections(peerId).filter(c => c.status === 'open')
    for (const id of this.verified) if (!open.some(c => c.id === id)) this.verified.delete(id)
    for (const id of this.rtts.keys()) if (!open.some(c => c.id === id)) this.rtts.delete(id)
    const usable = open.filter(c => !isLimited(c))
    const best = bestConnection(usable)
    if (best == null) {
      const limited = rankConnections(open)[0]
      if (this.currentPath != null) {
        this.currentPath = undefined
        if (limited != null) log.warn({ peer: peerId.toString(), relay: limited.remoteAddr.toString() }, 'only a limited relay still reaches the peer; new local connections wait for a direct path')
        else log.warn({ peer: peerId.toString() }, 'connection to the peer lost; the next local connection redials')
        events.emit('disconnected')
        if (limited == null) this.init.onLost?.()
      }
      // a limited relay carries no tunnel, but signals a direct path
      if (limited != null) this.init.onRelayed(limited)
      return
    }
    let rttMs: number | undefined
    let chosen: Connection | undefined
    for (const conn of rankConnections(usable)) {
      try {
        rttMs = await this.verify(conn, AbortSignal.any([shutdown, AbortSignal.timeout(VERIFY_TIMEOUT)]))
        chosen = conn
        break
      } catch (err) {
        log.info({ remote: conn.remoteAddr.toString(), err: (err as Error).message }, 'connection does not answer pings; not using it for new tunnels')
        this.verified.delete(conn.id)
      }
    }
    if (shutdown.aborted || chosen == null) return
    const path: PathInfo = { ...pathOf(chosen), ...(rttMs != null ? { rttMs } : {}) }
    if (path.transport === 'relay') this.init.onRelayed(chosen)
    if (this.currentPath?.remote === path.remote && this.currentPath.direct === path.direct) return
    this.currentPath = path
    events.emit('path', path)
  }

  /**
   * One ping on `conn`; marks it verified and returns the RTT. Concurrent
   * callers share the ping in flight (libp2p allows one outbound ping stream
   * per connection; a second one would fail and look like a dead connection),
   * and each stops waiting when its own `signal` aborts.
   */
  private async verify (conn: Connection, signal: AbortSignal): Promise<number> {
    let p = this.pings.get(conn.id)
    if (p == null) {
      p = pingConnection(conn, { signal: AbortSignal.any([this.init.shutdown, AbortSignal.timeout(VERIFY_TIMEOUT)]) })
      this.pings.set(conn.id, p)
      p.then((rtt) => { this.verified.add(conn.id); this.rtts.set(conn.id, rtt) }, () => {}).finally(() => { this.pings.delete(conn.id) })
    }
    const rtt = await untilAborted(p, signal)
    this.verified.add(conn.id)
    return rtt
  }

  /** Ping all candidates at once; the first to answer (marked verified), or undefined. */
  private async firstAnswering (candidates: Connection[], signal?: AbortSignal): Promise<Connection | undefined> {
    const stop = new AbortController()
    const pingSignal = AbortSignal.any([stop.signal, this.init.shutdown, AbortSignal.timeout(VERIFY_TIMEOUT), ...(signal != null ? [signal] : [])])
    try {
      return await Promise.any(candidates.map(async (c) => {
        await this.verify(c, pingSignal)
        return c
      }))
    } catch {
      if (signal?.aborted === true) throw signal.reason
      return undefined
    } finally {
      stop.abort()
    }
  }
}

/** `p`, or a rejection with the signal's reason as soon as it aborts (p keeps running). */
async function untilAborted<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  const settled = new AbortController()
  try {
    return await Promise.race([p, once(signal, 'abort', { signal: settled.signal }).then(() => { throw signal.reason })])
  } finally {
    settled.abort()
  }
}

import { setTimeout as delay } from 'node:timers/promises'
import type { EventEmitter } from 'node:events'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { LimitedRelayOnlyError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { ConnectEvents } from './events.ts'
import { describeLimits, limitsOf } from './limits.ts'
import { bestTunnelConnection } from './path.ts'

/** How long a connector whose only connection is through a limited relay waits for a direct path, in ms. */
export const DEFAULT_DIRECT_PATH_TIMEOUT = 30_000
/** How often the wait looks again at the peer's connections and pending dials, in ms. */
const POLL_INTERVAL = 250

/** Options and components of a {@link DirectPathWait}. */
export interface DirectPathWaitInit {
  /** The node whose connections to the peer are watched. */
  libp2p: Libp2p
  /** The peer. */
  peerId: PeerId
  /** Logger of the owning tunnel. */
  log: Logger
  /** Where `limited` events go (the owning tunnel). */
  events: EventEmitter<ConnectEvents>
  /** How long to wait for a connection that may carry tunnels, in ms. @default 30000 */
  timeout?: number | undefined
  /** Start an attempt at a direct path signalled through the limited connection's relay (retries come by themselves). */
  upgrade: (limited: Connection) => void
  /** Why no direct path can come at all (this node tries none), or undefined when an attempt may still bring one. */
  blocked: () => string | undefined
  /** Why no direct path came (the last attempt's error, or what stopped the attempts). */
  explain: () => Promise<string>
  /** Whether this node tries no WebRTC (the error's `webrtcOff`). @default whether `blocked()` says nothing can be tried */
  webrtcOff?: () => boolean
  /** Ends the wait (the owner closed). */
  shutdown: AbortSignal
}

/**
 * The wait of a connector whose only connection to the share is through a
 * relay that limits its connections. Such a connection is used to reach the
 * peer and to signal a direct path (WebRTC SDP through the relay, then ICE),
 * never to carry a tunnel. The wait ends with the first connection that may
 * carry tunnels (a WebRTC path, the share's dial back of connection
 * reversal, a relay without limits, a direct dial that was still running),
 * or with {@link LimitedRelayOnlyError} after the timeout, or at once when
 * nothing can bring one (no WebRTC on this node, nothing the share could
 * dial back, and no dial of the peer pending). Concurrent callers share one wait.
 */
export class DirectPathWait {
  private readonly init: DirectPathWaitInit
  readonly timeout: number
  private running: Promise<Connection> | undefined

  constructor (init: DirectPathWaitInit) {
    this.init = init
    this.timeout = init.timeout ?? DEFAULT_DIRECT_PATH_TIMEOUT
  }

  /** A connection that may carry tunnels; `limited` is the peer's limited connection to signal through. `signal` ends this caller's wait only. */
  async wait (limited: Connection, signal?: AbortSignal): Promise<Connection> {
    const running = this.running ?? (this.running = this.run(limited).finally(() => { this.running = undefined }))
    if (signal == null) return await running
    signal.throwIfAborted()
    const stop = new AbortController()
    try {
      return await Promise.race([running, new Promise<never>((resolve, reject) => {
        signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true, signal: stop.signal })
      })])
    } finally {
      stop.abort()
    }
  }

  private async run (limited: Connection): Promise<Connection> {
    const { libp2p, peerId, log, events, shutdown } = this.init
    const usable = (): Connection | undefined => bestTunnelConnection(libp2p.getConnections(peerId))
    const found = usable()
    if (found != null) return found
    const started = performance.now()
    const limits = limitsOf(limited) ?? {}
    const relay = limited.remoteAddr.toString()
    const base = { relay, limits, timeoutMs: this.timeout }
    const pendingDial = (): boolean => libp2p.getDialQueue().some(d => d.peerId?.equals(peerId) === true)
    const blocked = this.init.blocked()
    if (blocked == null) {
      log.info({ relay, limits, timeoutMs: this.timeout }, `waiting for a direct path: the relay is limited (${describeLimits(limits)}) and carries no tunnel`)
      events.emit('limited', { state: 'waiting', ...base })
      this.init.upgrade(limited)
    } else {
      log.info({ relay, limits, why: blocked }, `the only connection is through a limited relay (${describeLimits(limits)}) and ${blocked}`)
    }
    const deadline = AbortSignal.timeout(this.timeout)
    const ended = AbortSignal.any([deadline, shutdown])
    for (;;) {
      const conn = usable()
      if (conn != null) {
        const ms = Math.round(performance.now() - started)
        log.info({ remote: conn.remoteAddr.toString(), ms }, 'a connection that carries tunnels is up; the limited relay stays for signalling')
        events.emit('limited', { state: 'direct', ...base, ms })
        return conn
      }
      shutdown.throwIfAborted()
      // nothing will bring a direct path: give up once no dial of the peer is left
      if (deadline.aborted || (blocked != null && !pendingDial())) break
      await delay(POLL_INTERVAL, undefined, { signal: ended }).catch(() => {})
    }
    const waitedMs = Math.round(performance.now() - started)
    // one line: a WebRTC error may span several
    const why = (blocked ?? await this.init.explain()).replace(/\s+/g, ' ')
    events.emit('limited', { state: 'failed', ...base, ms: waitedMs, error: why })
    throw new LimitedRelayOnlyError(peerId.toString(), { relay, limits, waitedMs, why, webrtcOff: this.init.webrtcOff?.() ?? blocked != null, tried: blocked == null })
  }
}

import type { EventEmitter } from 'node:events'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import { MAX_REVERSAL_ADDRESSES, REVERSAL_PROTOCOL, ReversalStatus, accessProof, isDialBackAddress, reversalStatusName, sendReversalRequest } from '../../signaling/index.ts'
import type { Logger } from '../logger.ts'
import { withoutPeer } from './dialer.ts'
import type { DialAttempt } from './dialer.ts'
import type { ConnectEvents } from './events.ts'
import { RetryGate, UPGRADE_RETRY_MAX } from './retry-gate.ts'

/**
 * How long one reversal may take, in ms: the share waits up to 5 s for
 * identify and dials for up to 10 s (share/reversal.ts), then answers.
 */
export const REVERSAL_TIMEOUT = 20_000

const NO_OWN_ADDRESS = 'this node has no public TCP or QUIC address the share could dial back (listen on one)'

/** Options and components of a {@link ConnectionReversal}. */
export interface ConnectionReversalInit {
  /** The node that asks to be dialled. */
  libp2p: Libp2p
  /** The share. */
  peerId: PeerId
  /** The access secret from the connect string (the request carries the tunnel handshake's proof). @default unset */
  secret?: Uint8Array | undefined
  /** This node's dialable addresses, unconfirmed listen addresses included. @default libp2p's getMultiaddrs() */
  ownAddresses?: (() => Multiaddr[]) | undefined
  /**
   * Make identify tell these own addresses to peers: the share dials back
   * only addresses the peer announced itself, and libp2p announces public
   * listen addresses only once AutoNAT confirmed them. @default unset
   */
  vouch?: ((addrs: Multiaddr[]) => void) | undefined
  /** Logger of the owning tunnel. */
  log: Logger
  /** Where `upgrade` events go (the owning tunnel). */
  events: EventEmitter<ConnectEvents>
  /** Keeps each attempt for diagnostics. */
  record: (attempts: Array<DialAttempt & { technique?: string }>) => void
  /** Called when an attempt has ended and when a backoff has passed: the path is worth checking again. */
  onSettled: () => void
  /** Stops the attempt running and any retry (the owner closed). */
  shutdown: AbortSignal
  /** Whether to ask at all. @default true */
  enabled?: boolean
}

/**
 * Connection reversal, the connector's side: when the only path to the share
 * is relayed and this node has addresses the share can dial (a public TCP or
 * QUIC listen or announced address), ask the share over the relayed
 * connection (`/beam/reverse/1.0.0`, allowed on a limited connection: it is
 * signalling) to dial this node back. The direct connection the share opens
 * is an inbound one here; the path keeper finds it like any other and new
 * tunnels take it once a ping has come back. One attempt at a time, with the
 * WebRTC upgrade's backoff after a failure; it runs beside that upgrade, and
 * whichever direct path comes first carries the next tunnels.
 */
export class ConnectionReversal {
  private readonly init: ConnectionReversalInit
  private readonly enabled: boolean
  private running = false
  private readonly backoff: RetryGate
  private lastError: string | undefined

  constructor (init: ConnectionReversalInit) {
    this.init = init
    this.enabled = init.enabled ?? true
    this.backoff = new RetryGate(() => { this.init.onSettled() })
    // before the first connection: its identify then tells the share these addresses
    if (this.enabled) this.vouch()
  }

  /** Have identify announce this node's dial-back addresses (see `vouch`); returns them. */
  private vouch (): Multiaddr[] {
    const own = this.ownAddresses()
    if (own.length > 0) this.init.vouch?.(own)
    return own
  }

  /** This node's addresses the share could dial back (at most the request's cap), without `/p2p/`. */
  ownAddresses (): Multiaddr[] {
    const seen = new Set<string>()
    const out: Multiaddr[] = []
    for (const ma of this.init.ownAddresses?.() ?? this.init.libp2p.getMultiaddrs()) {
      if (!isDialBackAddress(ma)) continue
      const bare = withoutPeer(ma)
      const text = bare.toString()
      if (seen.has(text)) continue
      seen.add(text)
      out.push(bare)
    }
    return out.slice(0, MAX_REVERSAL_ADDRESSES)
  }

  /**
   * Ask the share to dial back, over the relayed connection `relayed`,
   * unless an attempt is running or the backoff after a failure has not
   * passed (then the path is checked again once it has).
   */
  maybeReverse (relayed: Connection): void {
    const { libp2p, peerId, log, events, shutdown } = this.init
    if (!this.enabled || this.running || shutdown.aborted || relayed.status !== 'open') return
    if (!this.backoff.open()) return
    // nothing to be dialled back on (most connectors, behind a NAT): not an error worth reporting
    const own = this.vouch()
    if (own.length === 0) return
    this.running = true
    const address = relayed.remoteAddr.toString()
    void (async () => {
      const listed = own.map(a => a.toString())
      log.info({ addresses: listed, via: address }, 'relayed; trying a direct path by connection reversal (asking the share to dial this node back)')
      events.emit('upgrade', { technique: 'reversal', state: 'trying', address })
      const start = performance.now()
      let error: string
      let retryInMs = this.backoff.nextDelay()
      try {
        const signal = AbortSignal.any([shutdown, AbortSignal.timeout(REVERSAL_TIMEOUT)])
        const stream = await relayed.newStream(REVERSAL_PROTOCOL, { signal, runOnLimitedConnection: true })
        const secret = this.init.secret
        const proof = secret != null ? accessProof(secret, libp2p.peerId.toMultihash().bytes, peerId.toMultihash().bytes) : undefined
        const res = await sendReversalRequest(stream, proof != null ? { proof, addresses: own } : { addresses: own }, { signal })
        const ms = Math.round(performance.now() - start)
        if (res.status === ReversalStatus.CONNECTED) {
          this.backoff.succeeded()
          this.lastError = undefined
          this.init.record([{ address, kind: 'direct', ok: true, ms, technique: 'reversal' }])
          log.info({ remote: res.reason, ms }, 'connection reversal: the share dialled this node back directly')
          events.emit('upgrade', { technique: 'reversal', state: 'succeeded', address, ms })
          return
        }
        error = `the share answered ${reversalStatusName(res.status)}: ${res.reason}`
        // a refusal or no usable address will not change soon
        if (res.status !== ReversalStatus.DIAL_FAILED) retryInMs = UPGRADE_RETRY_MAX
      } catch (err) {
        if (shutdown.aborted) return
        error = (err as Error).message
      }
      const ms = Math.round(performance.now() - start)
      this.backoff.failed(retryInMs)
      this.lastError = `connection reversal failed: ${error}`
      this.init.record([{ address, kind: 'direct', ok: false, ms, error, technique: 'reversal' }])
      log.warn({ via: address, err: error, retryInS: retryInMs / 1000 }, 'connection reversal failed: no direct path from the share dialling back')
      events.emit('upgrade', { technique: 'reversal', state: 'failed', address, ms, error, retryInMs })
    })().finally(() => {
      this.running = false
      this.init.onSettled()
    })
  }

  /** Why reversal cannot bring a direct path at all (off, or nothing to dial back), or undefined when it may. */
  blocked (): string | undefined {
    if (!this.enabled) return 'connection reversal is off on this node'
    return this.ownAddresses().length === 0 ? NO_OWN_ADDRESS : undefined
  }

  /** Why reversal brought no direct path yet: the last attempt's error, or undefined. */
  explain (): string | undefined {
    if (this.lastError != null) return this.lastError
    return this.running ? `the connection reversal did not finish (it may take up to ${REVERSAL_TIMEOUT / 1000} s)` : undefined
  }

  /** Cancel a pending retry (the attempt running is stopped by `shutdown`). */
  close (): void {
    this.backoff.close()
  }
}

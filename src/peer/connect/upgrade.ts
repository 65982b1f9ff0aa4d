import type { EventEmitter } from 'node:events'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'
import { classifyAddress, webrtcViaRelay } from './dialer.ts'
import type { DialAttempt } from './dialer.ts'
import type { ConnectEvents } from './events.ts'
import type { PunchOutcome } from './punch.ts'
import { RetryGate, UPGRADE_RETRY_FIRST, UPGRADE_RETRY_MAX } from './retry-gate.ts'

/** How long one WebRTC upgrade attempt may take, in ms. */
export const UPGRADE_TIMEOUT = 15_000
/**
 * Wait before trying again, in ms, after a WebRTC attempt failed by itself
 * (not by its timeout: a failed DTLS handshake, see
 * src/peer/libp2p/channel-fail-fast.ts), once per success: a new attempt
 * (after a punch, a new punch) usually works, and the usual 5 s backoff would
 * pass the 5 s a punch aims at. Not counted as a failure for the backoff.
 */
export const RETRY_SOON = 250
const NO_WEBRTC_ADDRESS = 'the peer offers no WebRTC address'

/** An error's message; an error event (a WebRTC data channel's) carries its error in `error`. */
function messageOf (err: unknown): string {
  if (err instanceof Error) return err.message
  const inner = (err as { error?: unknown } | null)?.error
  return inner instanceof Error ? inner.message : String(err)
}

/** Options and components of a {@link PathUpgrader}. */
export interface PathUpgraderInit {
  /** The node that dials. */
  libp2p: Libp2p
  /** The peer to reach. */
  peerId: PeerId
  /** Logger of the owning tunnel. */
  log: Logger
  /** Where `upgrade` events go (the owning tunnel). */
  events: EventEmitter<ConnectEvents>
  /** The peer's addresses known now (peer store): an upgrade is tried only if one is a WebRTC address. */
  knownAddresses: () => Promise<Multiaddr[]>
  /** Keeps each attempt for diagnostics. */
  record: (attempts: Array<DialAttempt & { technique?: string }>) => void
  /** Called when an attempt has ended and when a backoff has passed: the path is worth checking again. */
  onSettled: () => void
  /** Stops the attempt running and any retry (the owner closed). */
  shutdown: AbortSignal
  /** Whether to try at all. @default true */
  enabled?: boolean
  /** A UDP hole punch run over the relayed connection before the WebRTC dial (punch.ts); ok: the dial goes over the punched ports. @default unset */
  punch?: ((relayed: Connection, signal: AbortSignal) => Promise<PunchOutcome>) | undefined
}

/**
 * Moves a relayed tunnel to a direct path: a WebRTC hole punch signalled
 * through the relay the relayed connection uses, one attempt at a time, with
 * backoff after a failure. A connection it makes carries new streams only
 * after the path keeper's ping has proven it.
 */
export class PathUpgrader {
  private readonly init: PathUpgraderInit
  private readonly enabled: boolean
  private upgrading = false
  private readonly backoff: RetryGate
  /** The last attempt's error, or why none was made. */
  private lastError: string | undefined
  /** Times the peer was found to offer no WebRTC address. */
  private noAddress = 0
  /** An attempt that failed by itself was retried soon since the last success ({@link RETRY_SOON}). */
  private retriedSoon = false

  constructor (init: PathUpgraderInit) {
    this.init = init
    this.enabled = init.enabled ?? true
    this.backoff = new RetryGate(() => { this.init.onSettled() })
  }

  /**
   * Start a WebRTC hole punch through the relay of a relayed connection,
   * unless one is running or the backoff after a failure has not passed
   * (then the path is checked again once it has).
   */
  maybeUpgrade (relayed: Connection): void {
    const { libp2p, peerId, log, events, shutdown } = this.init
    if (!this.enabled || this.upgrading || shutdown.aborted) return
    if (!this.backoff.open()) return
    const address = webrtcViaRelay(relayed.remoteAddr, peerId)
    if (address == null) return
    this.upgrading = true
    void (async () => {
      const offersWebrtc = (await this.init.knownAddresses()).some(a => classifyAddress(a) === 'webrtc')
      if (!offersWebrtc) {
        log.debug({ peer: peerId.toString() }, 'the peer offers no WebRTC address; staying on the relay')
        this.lastError = NO_WEBRTC_ADDRESS
        // the first time soon again: identify may not have told the peer's addresses yet
        this.backoff.holdFor(this.noAddress++ === 0 ? UPGRADE_RETRY_FIRST : UPGRADE_RETRY_MAX)
        return
      }
      const text = address.toString()
      const start = performance.now()
      // the hole punch (and the birthday punch before it) is signalled over the relayed connection: when that
      // closes (the share moved, its NAT forgot it), the attempt cannot
      // succeed, and while it runs libp2p joins every other dial naming the
      // peer (the redial through the relay) into its job, behind it
      const gone = new AbortController()
      const onClose = (): void => { gone.abort(new Error('the relayed connection the hole punch was signalled over closed')) }
      relayed.addEventListener('close', onClose, { once: true })
      if (relayed.status !== 'open') onClose()
      let technique: 'webrtc' | 'punch' = 'webrtc'
      if (this.init.punch != null) {
        const punched = await this.init.punch(relayed, AbortSignal.any([shutdown, AbortSignal.timeout(UPGRADE_TIMEOUT), gone.signal]))
        if (punched.ok) technique = 'punch'
        else if (punched.error != null) {
          this.init.record([{ address: text, kind: 'webrtc', ok: false, ms: punched.ms, error: punched.error, technique: 'punch' }])
          log.info({ err: punched.error }, 'hole punch failed; trying WebRTC as usual')
        }
      }
      log.info({ address: text, technique }, technique === 'punch' ? 'relayed; WebRTC over the punched UDP pair' : 'relayed; trying a direct path (WebRTC hole punch through the relay)')
      events.emit('upgrade', { technique, state: 'trying', address: text })
      const signal = AbortSignal.any([shutdown, AbortSignal.timeout(UPGRADE_TIMEOUT), gone.signal])
      try {
        await libp2p.dial(address, { signal, force: true })
        const ms = Math.round(performance.now() - start)
        this.backoff.succeeded()
        this.retriedSoon = false
        this.lastError = undefined
        this.init.record([{ address: text, kind: 'webrtc', ok: true, ms, technique }])
        events.emit('upgrade', { technique, state: 'succeeded', address: text, ms })
      } catch (err) {
        if (shutdown.aborted) return
        const ms = Math.round(performance.now() - start)
        // the connection failed by itself (not timed out): a new attempt (and punch) at once, once
        const soon = !signal.aborted && !this.retriedSoon
        if (soon) this.retriedSoon = true
        const retryInMs = soon ? RETRY_SOON : this.backoff.failed()
        if (soon) this.backoff.holdFor(retryInMs)
        const error = messageOf(err)
        this.lastError = `WebRTC failed: ${error}`
        this.init.record([{ address: text, kind: 'webrtc', ok: false, ms, error, technique }])
        log.warn({ address: text, err: error, retryInS: retryInMs / 1000 }, 'no direct path (WebRTC failed); the tunnel stays on the relay')
        events.emit('upgrade', { technique, state: 'failed', address: text, ms, error, retryInMs })
      } finally {
        relayed.removeEventListener('close', onClose)
      }
    })().finally(() => {
      this.upgrading = false
      this.init.onSettled()
    })
  }

  /** Why no direct path can come at all (this node tries none), or undefined when an attempt may bring one. */
  blocked (): string | undefined {
    return this.enabled ? undefined : 'WebRTC is off on this node, so no direct path can be made'
  }

  /** Why there is no direct path yet: the last attempt's error, or what stopped the attempts. */
  async explain (): Promise<string> {
    if (this.lastError != null) return this.lastError
    if (this.upgrading) return `the WebRTC attempt did not finish (it may take up to ${UPGRADE_TIMEOUT / 1000} s)`
    const offersWebrtc = (await this.init.knownAddresses()).some(a => classifyAddress(a) === 'webrtc')
    return offersWebrtc ? 'no WebRTC attempt was made' : NO_WEBRTC_ADDRESS
  }

  /** Cancel a pending retry (the attempt running is stopped by `shutdown`). */
  close (): void {
    this.backoff.close()
  }
}

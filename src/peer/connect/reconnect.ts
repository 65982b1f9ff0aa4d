import { setTimeout as sleep } from 'node:timers/promises'
import type { EventEmitter } from 'node:events'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Logger } from '../logger.ts'
import type { ConnectEvents } from './events.ts'
import { DialRoundError } from './redial.ts'
import { describeAttempts } from './attempts.ts'

/** First pause between two redials of a lost share, in ms (after one at once). */
export const REDIAL_FIRST = 1000

/**
 * Longest pause between two redials of a lost share, in ms: a share that
 * comes back (a restart, a laptop that woke up, a new network) is found
 * within about this long even when no local client asks for it, at the cost
 * of one dial round (and at most one DHT lookup) per peer per pause.
 */
export const REDIAL_MAX = 30_000

/** Options and components of a {@link Reconnector}. */
export interface ReconnectorInit {
  /** The share. */
  peerId: PeerId
  /** Logger of the owning tunnel. */
  log: Logger
  /** One dial round: known addresses, then the DHT (PeerDialer.round). */
  round: (signal: AbortSignal) => Promise<Connection>
  /** Whether a connection that may carry tunnels is open now. */
  connected: () => boolean
  /** Told when a round connected (the path is checked again). */
  onConnected: () => void
  /** Where `redial` events go (the owning tunnel). */
  events: EventEmitter<ConnectEvents>
  /** How long one round may take, in ms. */
  roundTimeout: number
  /** First pause, in ms. @default REDIAL_FIRST (1000) */
  first?: number
  /** Longest pause, in ms. @default REDIAL_MAX (30000) */
  max?: number
  /** Stops the loop (the owner closed). */
  shutdown: AbortSignal
}

/**
 * Finds a lost share again, for as long as the tunnel runs: when the last
 * connection that carried tunnels closes, it dials at once, then with
 * doubling pauses (±20 %) up to {@link REDIAL_MAX}, by every means a round
 * has (the addresses known, the DHT, the relays in the peer's addresses),
 * until one connects or another dial (a local client's) has.
 */
export class Reconnector {
  private readonly init: ReconnectorInit
  private running: Promise<void> | undefined

  constructor (init: ReconnectorInit) {
    this.init = init
  }

  /** Whether the loop runs now. */
  get active (): boolean { return this.running != null }

  /** Start redialling (no-op while it runs). */
  start (): void {
    if (this.running != null || this.init.shutdown.aborted) return
    this.running = this.loop().finally(() => { this.running = undefined })
  }

  private async loop (): Promise<void> {
    const { peerId, log, shutdown, events } = this.init
    const max = this.init.max ?? REDIAL_MAX
    let pause = this.init.first ?? REDIAL_FIRST
    for (let attempt = 1; !shutdown.aborted && !this.init.connected(); attempt++) {
      try {
        await this.init.round(AbortSignal.any([shutdown, AbortSignal.timeout(this.init.roundTimeout)]))
        log.info({ peer: peerId.toString(), attempt }, `the peer answers again (redial ${attempt})`)
        this.init.onConnected()
        return
      } catch (err) {
        if (shutdown.aborted) return
        const error = err instanceof DialRoundError ? describeAttempts([err.outcome]) : (err as Error).message
        const retryInMs = Math.round(pause * (0.8 + 0.4 * Math.random()))
        log.info({ peer: peerId.toString(), attempt, retryInMs, err: error }, `the peer is still unreachable (${error}); next redial in ${Math.round(retryInMs / 100) / 10} s`)
        events.emit('redial', { attempt, error, retryInMs })
        await sleep(retryInMs, undefined, { signal: shutdown }).catch(() => {})
        pause = Math.min(pause * 2, max)
      }
    }
  }
}

import { setTimeout as sleep } from 'node:timers/promises'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_DIAL_TIMEOUT } from '../constants.ts'
import { PeerUnreachableError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { DialRaceError, classifyAddress, raceDial } from './dialer.ts'
import type { DialAttempt, RacingPeers } from './dialer.ts'
import { describeAttempts } from './attempts.ts'
import type { RoundOutcome } from './attempts.ts'

export { describeAttempts, describeAddress, describeDialFailure } from './attempts.ts'
export type { RoundOutcome } from './attempts.ts'

/** First pause between two rounds of one dial, in ms (doubled each round). */
export const DIAL_RETRY_FIRST = 250

/** Longest pause between two rounds of one dial, in ms. */
export const DIAL_RETRY_MAX = 4000

/** Options and components of a {@link PeerDialer}. */
export interface PeerDialerInit {
  /** The node that dials. */
  libp2p: Libp2p
  /** The peer to reach. */
  peerId: PeerId
  /** Logger of the owning tunnel. */
  log: Logger
  /** The peer's addresses known now (peer store). */
  knownAddresses: () => Promise<Multiaddr[]>
  /**
   * Fresh addresses for the peer (a DHT lookup), asked when every known one
   * fails; it rejects with PeerNotFoundError (`noBootstrap` set when there
   * is no DHT to ask). @default unset (the DHT is off)
   */
  refresh?: ((signal: AbortSignal) => Promise<Multiaddr[]>) | undefined
  /** Peers this node is racing dials for (shared with the node's DHT). @default unset */
  racing?: RacingPeers | undefined
  /** How long one dial (all its rounds) may take, in ms. @default 30000 */
  dialTimeout?: number | undefined
  /** Aborts every dial (the owner closed). */
  shutdown: AbortSignal
  /** Told of each race: the addresses tried, and whether one connected. */
  onDial: (attempts: DialAttempt[], ok: boolean) => void
}

/** A dial round in which nothing answered: what was tried and what each answered. */
export class DialRoundError extends Error {
  /** What the round tried. */
  readonly outcome: RoundOutcome
  constructor (outcome: RoundOutcome, cause?: unknown) {
    super(describeAttempts([outcome]), { cause })
    this.name = 'DialRoundError'
    this.outcome = outcome
  }
}

/**
 * Dials one peer. One round races its known addresses (see raceDial) or,
 * when none is known, asks libp2p's peer routing; when every known address
 * fails, the peer is looked up again (the addresses may be stale: the share
 * moved) and the fresh ones are raced. {@link dial} repeats rounds with
 * backoff until one connects or the dial timeout ends (a share that restarts
 * comes back on the same port within seconds), then fails with a
 * {@link PeerUnreachableError} that lists each address and what it answered.
 */
export class PeerDialer {
  private readonly init: PeerDialerInit
  /** How long one dial may take, in ms. */
  readonly dialTimeout: number

  constructor (init: PeerDialerInit) {
    this.init = init
    this.dialTimeout = init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT
  }

  /** Rounds with backoff until one connects, `signal` aborts or the dial timeout ends. */
  async dial (signal?: AbortSignal): Promise<Connection> {
    const { peerId, log, shutdown } = this.init
    const start = performance.now()
    const dialSignal = AbortSignal.any([shutdown, AbortSignal.timeout(this.dialTimeout), ...(signal != null ? [signal] : [])])
    const outcomes: RoundOutcome[] = []
    let pause = DIAL_RETRY_FIRST
    let last: unknown
    for (;;) {
      try {
        return await this.round(dialSignal)
      } catch (err) {
        if (signal?.aborted === true || shutdown.aborted) throw err
        last = err
        if (err instanceof DialRoundError) outcomes.push(err.outcome)
        else if (!dialSignal.aborted) outcomes.push({ attempts: [], error: (err as Error).message })
      }
      if (dialSignal.aborted) break
      log.info({ peer: peerId.toString(), retryInMs: pause, tried: outcomes.at(-1) != null ? describeAttempts(outcomes.slice(-1)) : undefined }, `no answer from the peer; trying again in ${pause} ms`)
      await sleep(pause, undefined, { signal: dialSignal }).catch(() => {})
      if (dialSignal.aborted) break
      pause = Math.min(pause * 2, DIAL_RETRY_MAX)
    }
    const seconds = Math.round((performance.now() - start) / 1000)
    const detail = outcomes.length === 0
      ? `no answer within ${this.dialTimeout} ms`
      : `tried ${outcomes.length} time(s) in ${seconds} s: ${describeAttempts(outcomes)}`
    throw new PeerUnreachableError(peerId.toString(), detail, last)
  }

  /**
   * One round: the known addresses at once (relayed ones after a head
   * start); if every one fails and the DHT can be asked, the fresh addresses
   * it gives. Rejects with {@link DialRoundError}.
   */
  async round (signal: AbortSignal): Promise<Connection> {
    const { libp2p, peerId, log, refresh, racing, onDial } = this.init
    const known = await this.init.knownAddresses()
    const direct = known.filter(a => classifyAddress(a) === 'direct').length
    const relayed = known.filter(a => classifyAddress(a) === 'relayed').length
    if (direct + relayed === 0) {
      log.info({ peer: peerId.toString() }, 'dialing peer (no known address: asking the network)')
      try {
        return await libp2p.dial(peerId, { signal })
      } catch (err) {
        signal.throwIfAborted()
        throw new DialRoundError({ attempts: [], error: (err as Error).message }, err)
      }
    }
    log.info({ peer: peerId.toString(), direct, relayed }, `dialing peer: ${direct} direct and ${relayed} relayed address(es)`)
    let attempts: DialAttempt[]
    try {
      const won = await raceDial(libp2p, peerId, { addrs: known, log, signal, racing })
      onDial(won.attempts, true)
      return won.connection
    } catch (err) {
      if (!(err instanceof DialRaceError)) throw err
      onDial(err.attempts, false)
      attempts = err.attempts
      signal.throwIfAborted()
    }
    if (refresh == null) throw new DialRoundError({ attempts, dht: 'off' })
    // every known address failed: they may be stale (the share moved); ask the DHT
    let fresh: Multiaddr[]
    try {
      fresh = (await refresh(signal)).filter(a => !known.some(k => k.equals(a)))
    } catch (err) {
      signal.throwIfAborted()
      const noDht = (err as { noBootstrap?: boolean }).noBootstrap === true
      if (!noDht) log.info({ peer: peerId.toString(), err: (err as Error).message }, 'no known address answered, and the DHT lookup failed')
      throw new DialRoundError({ attempts, dht: noDht ? 'none' : `failed: ${(err as Error).message}` }, err)
    }
    if (fresh.length === 0) throw new DialRoundError({ attempts, dht: 'no new address' })
    log.info({ peer: peerId.toString(), fresh: fresh.length }, `no known address answered; the DHT gave ${fresh.length} new one(s)`)
    // merged, not replaced: the old addresses are good again when the share comes back on them
    await libp2p.peerStore.merge(peerId, { multiaddrs: fresh })
    try {
      const won = await raceDial(libp2p, peerId, { addrs: fresh, log, signal, racing })
      onDial(won.attempts, true)
      return won.connection
    } catch (err) {
      if (!(err instanceof DialRaceError)) throw err
      onDial(err.attempts, false)
      signal.throwIfAborted()
      throw new DialRoundError({ attempts: [...attempts, ...err.attempts], dht: `${fresh.length} new address(es), none answered` }, err)
    }
  }
}

/** One line out of libp2p's dial errors (often an AggregateError). */
export function describeDialError (err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    const parts = new Set(err.errors.map(e => (e as Error)?.message ?? String(e)))
    return [...parts].slice(0, 3).join('; ')
  }
  if (err instanceof Error) {
    if (err.name === 'NoValidAddressesError') return 'no usable address for the peer'
    return err.message
  }
  return String(err)
}

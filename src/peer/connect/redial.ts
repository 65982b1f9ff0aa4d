import type { Connection, PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_DIAL_TIMEOUT } from '../constants.ts'
import { PeerUnreachableError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { DialRaceError, classifyAddress, raceDial } from './dialer.ts'
import type { DialAttempt, RacingPeers } from './dialer.ts'

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
  /** Fresh addresses for the peer (a DHT lookup), asked once when every known one fails. @default unset (no second try) */
  refresh?: ((signal: AbortSignal) => Promise<Multiaddr[]>) | undefined
  /** Peers this node is racing dials for (shared with the node's DHT). @default unset */
  racing?: RacingPeers | undefined
  /** How long one dial may take, in ms. @default 30000 */
  dialTimeout?: number | undefined
  /** Aborts every dial (the owner closed). */
  shutdown: AbortSignal
  /** Told of each race: the addresses tried, and whether one connected. */
  onDial: (attempts: DialAttempt[], ok: boolean) => void
}

/**
 * Dials one peer: a race over its known addresses (see raceDial) or, when
 * none is known, libp2p's own peer routing; when every known address fails,
 * the peer is looked up again (the addresses may be stale) and the fresh ones
 * are raced once. Failures become {@link PeerUnreachableError}.
 */
export class PeerDialer {
  private readonly init: PeerDialerInit
  private readonly dialTimeout: number

  constructor (init: PeerDialerInit) {
    this.init = init
    this.dialTimeout = init.dialTimeout ?? DEFAULT_DIAL_TIMEOUT
  }

  async dial (signal?: AbortSignal): Promise<Connection> {
    const { libp2p, peerId, log, refresh, racing, shutdown, onDial } = this.init
    const dialSignal = AbortSignal.any([shutdown, AbortSignal.timeout(this.dialTimeout), ...(signal != null ? [signal] : [])])
    const known = await this.init.knownAddresses()
    const direct = known.filter(a => classifyAddress(a) === 'direct').length
    const relayed = known.filter(a => classifyAddress(a) === 'relayed').length
    try {
      if (direct + relayed === 0) {
        log.info({ peer: peerId.toString() }, 'dialing peer (no known address: asking the network)')
        return await libp2p.dial(peerId, { signal: dialSignal })
      }
      log.info({ peer: peerId.toString(), direct, relayed }, `dialing peer: ${direct} direct and ${relayed} relayed address(es)`)
      try {
        const { connection, attempts } = await raceDial(libp2p, peerId, { addrs: known, log, signal: dialSignal, racing })
        onDial(attempts, true)
        return connection
      } catch (err) {
        if (!(err instanceof DialRaceError) || refresh == null || dialSignal.aborted) throw err
        onDial(err.attempts, false)
        // every known address failed: they may be stale; ask the DHT once
        log.info({ peer: peerId.toString() }, 'no known address answered; looking the peer up again')
        const fresh = (await refresh(dialSignal)).filter(a => !known.some(k => k.equals(a)))
        if (fresh.length === 0) throw err
        await libp2p.peerStore.patch(peerId, { multiaddrs: fresh })
        const { connection, attempts } = await raceDial(libp2p, peerId, { addrs: fresh, log, signal: dialSignal, racing })
        onDial(attempts, true)
        return connection
      }
    } catch (err) {
      if (err instanceof DialRaceError) onDial(err.attempts, false)
      if (signal?.aborted === true || shutdown.aborted) throw err
      const detail = dialSignal.aborted ? `no answer within ${this.dialTimeout} ms` : describeDialError(err)
      throw new PeerUnreachableError(peerId.toString(), detail, err)
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

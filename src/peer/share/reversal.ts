import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_HANDSHAKE_TIMEOUT, MAX_REVERSAL_ADDRESSES, REVERSAL_PROTOCOL, ReversalStatus, isDialBackAddress, readReversalRequest } from '../../signaling/index.ts'
import type { IncomingReversal, ReversalResponse } from '../../signaling/index.ts'
import type { Logger } from '../logger.ts'

/** Reversal requests one peer may make within {@link REVERSAL_WINDOW}. */
export const REVERSAL_ATTEMPTS_PER_PEER = 3
/** The window of {@link REVERSAL_ATTEMPTS_PER_PEER}, in ms. */
export const REVERSAL_WINDOW = 10 * 60_000
/** Dial-backs running at once over all peers. */
export const MAX_REVERSALS_IN_FLIGHT = 4
/** How long one dial-back (every accepted address at once) may take, in ms. */
export const REVERSAL_DIAL_TIMEOUT = 10_000
/** How long a second identify of the peer may take when a request names addresses it has not announced yet, in ms. */
export const REVERSAL_IDENTIFY_WAIT = 5_000
/** Peers whose recent attempts are remembered; past it the oldest is forgotten. */
const MAX_TRACKED_PEERS = 1024
/** Reversal streams per connection at once (a connector asks one at a time). */
const MAX_REVERSAL_STREAMS = 2

/**
 * The addresses a share dials back for `peer`, out of those it asked for
 * (`requested`): each must have the shape of a dial-back address
 * ({@link isDialBackAddress}: a public IP literal, TCP or QUIC, nothing
 * else), name no other peer, and be one of the addresses the peer itself
 * announced over identify (`announced`, the peer store's). At most
 * MAX_REVERSAL_ADDRESSES, each ending in `/p2p/<peer>` so that the dial
 * fails unless that very peer answers (Noise checks its key).
 */
export function reversalTargets (requested: Multiaddr[], announced: Multiaddr[], peer: PeerId): Multiaddr[] {
  const id = peer.toString()
  const bare = (ma: Multiaddr): string | undefined => {
    const last = ma.getComponents().at(-1)
    if (last?.name !== 'p2p') return ma.toString()
    if (last.value !== id) return undefined
    const text = ma.toString()
    return text.slice(0, text.lastIndexOf('/p2p/'))
  }
  const known = new Set(announced.map(bare).filter(a => a != null))
  const out = new Map<string, Multiaddr>()
  for (const ma of requested) {
    const b = bare(ma)
    if (b == null || !isDialBackAddress(ma) || !known.has(b) || out.has(b)) continue
    out.set(b, multiaddr(`${b}/p2p/${id}`))
    if (out.size >= MAX_REVERSAL_ADDRESSES) break
  }
  return [...out.values()]
}

/** The part of libp2p's identify service used here. */
interface Identifier {
  identify?: (connection: Connection, options?: { signal?: AbortSignal }) => Promise<unknown>
}

/** Which cap refused a reversal: the peer's attempts in the window, or the dial-backs running in all. */
export type ReversalRefusal = 'peer' | 'total'

/** The reversal budget: attempts per peer within a window, and dial-backs at once. */
export class ReversalBudget {
  private readonly attempts = new Map<string, number[]>()
  private inFlight = 0
  private readonly perPeer: number
  private readonly window: number
  private readonly maxInFlight: number

  constructor (options: { perPeer?: number, window?: number, maxInFlight?: number } = {}) {
    this.perPeer = options.perPeer ?? REVERSAL_ATTEMPTS_PER_PEER
    this.window = options.window ?? REVERSAL_WINDOW
    this.maxInFlight = options.maxInFlight ?? MAX_REVERSALS_IN_FLIGHT
  }

  /** Take an attempt for `peer` at `now` (ms), or say which cap refuses it. Pair with {@link release}. */
  take (peer: string, now: number = performance.now()): ReversalRefusal | undefined {
    const recent = (this.attempts.get(peer) ?? []).filter(t => now - t < this.window)
    if (recent.length >= this.perPeer) {
      this.attempts.set(peer, recent)
      return 'peer'
    }
    if (this.inFlight >= this.maxInFlight) return 'total'
    this.inFlight++
    this.attempts.delete(peer)
    this.attempts.set(peer, [...recent, now])
    if (this.attempts.size > MAX_TRACKED_PEERS) {
      const oldest = this.attempts.keys().next().value
      if (oldest != null) this.attempts.delete(oldest)
    }
    return undefined
  }

  /** A dial-back taken with {@link take} has ended. */
  release (): void {
    if (this.inFlight > 0) this.inFlight--
  }
}

/** Options and components of a {@link ReversalService}. */
export interface ReversalServiceInit {
  /** The share's node. */
  libp2p: Libp2p
  /** The share's logger. */
  log: Logger
  /** The share's access policy: undefined when a peer with this proof may open tunnels, else why not. */
  authorize: (peer: PeerId, proof: Uint8Array | undefined) => string | undefined
  /** Ends running dial-backs (the share closed). */
  shutdown: AbortSignal
  /** The caps. @default REVERSAL_ATTEMPTS_PER_PEER in REVERSAL_WINDOW, MAX_REVERSALS_IN_FLIGHT */
  budget?: ReversalBudget
  /** How long one dial-back may take, in ms. @default REVERSAL_DIAL_TIMEOUT */
  dialTimeout?: number
}

/**
 * The share's side of connection reversal (`/beam/reverse/1.0.0`): a
 * connector whose only connection is relayed (typically through a relay
 * that limits its connections) and that is itself dialable asks to be
 * dialled back; the share dials it directly, and the connector's tunnels run
 * on that connection. Only a peer the access policy admits gets a dial-back,
 * only to addresses that pass {@link reversalTargets}, and within the
 * {@link ReversalBudget}: a connector cannot make the share dial third
 * parties, its own LAN or loopback, or dial without bound.
 */
export class ReversalService {
  private readonly init: ReversalServiceInit
  private readonly budget: ReversalBudget
  private readonly dialTimeout: number

  constructor (init: ReversalServiceInit) {
    this.init = init
    this.budget = init.budget ?? new ReversalBudget()
    this.dialTimeout = init.dialTimeout ?? REVERSAL_DIAL_TIMEOUT
  }

  /** Register the protocol handler (it runs over relayed connections with limits: it is signalling). */
  async start (): Promise<void> {
    await this.init.libp2p.handle(REVERSAL_PROTOCOL, (stream, connection) => {
      this.serve(stream, connection).catch((err: Error) => {
        this.init.log.debug({ err: err.message }, 'reversal stream failed')
        stream.abort(err)
      })
    }, { maxInboundStreams: MAX_REVERSAL_STREAMS, maxOutboundStreams: 1, runOnLimitedConnection: true })
  }

  /** Unregister the handler. */
  async stop (): Promise<void> {
    await this.init.libp2p.unhandle(REVERSAL_PROTOCOL).catch(() => {})
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const { libp2p, shutdown } = this.init
    const peer = connection.remotePeer
    const log = this.init.log.child({ peer: peer.toString(), protocol: REVERSAL_PROTOCOL })
    const answer = async (res: ReversalResponse): Promise<void> => {
      const signal = AbortSignal.timeout(2000)
      await incoming?.respond(res, { signal })
      await stream.close({ signal })
    }
    let incoming: IncomingReversal | undefined
    try {
      incoming = await readReversalRequest(stream, { signal: AbortSignal.any([shutdown, AbortSignal.timeout(DEFAULT_HANDSHAKE_TIMEOUT)]) })
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'bad or missing reversal request; stream reset')
      stream.abort(err as Error)
      return
    }
    const refusal = this.init.authorize(peer, incoming.request.proof)
    if (refusal != null) {
      log.warn({ reason: refusal }, 'connection reversal refused')
      await answer({ status: ReversalStatus.UNAUTHORIZED, reason: refusal })
      return
    }
    const capped = this.budget.take(peer.toString())
    if (capped != null) {
      const reason = capped === 'peer'
        ? `at most ${REVERSAL_ATTEMPTS_PER_PEER} connection reversals per peer in ${REVERSAL_WINDOW / 60_000} min`
        : 'the share is dialling back other peers; try again later'
      log.info({ cap: capped }, 'connection reversal refused: ' + reason)
      await answer({ status: ReversalStatus.RATE_LIMITED, reason })
      return
    }
    try {
      let targets = reversalTargets(incoming.request.addresses, await this.announced(peer), peer)
      // the peer's identify may predate the addresses it vouched for since: ask it again, once
      if (targets.length === 0 && incoming.request.addresses.some(isDialBackAddress)) {
        await this.reidentify(connection)
        targets = reversalTargets(incoming.request.addresses, await this.announced(peer), peer)
      }
      if (targets.length === 0) {
        const reason = 'none of the listed addresses is a public TCP or QUIC address the peer announced itself'
        log.info({ requested: incoming.request.addresses.map(a => a.toString()) }, 'connection reversal: ' + reason)
        await answer({ status: ReversalStatus.NO_ADDRESS, reason })
        return
      }
      log.info({ addresses: targets.map(a => a.toString()) }, 'connection reversal: dialling the peer back')
      const start = performance.now()
      try {
        const conn = await libp2p.dial(targets, { signal: AbortSignal.any([shutdown, AbortSignal.timeout(this.dialTimeout)]), force: true })
        const ms = Math.round(performance.now() - start)
        log.info({ remote: conn.remoteAddr.toString(), ms }, 'connection reversal: connected to the peer directly')
        await answer({ status: ReversalStatus.CONNECTED, reason: conn.remoteAddr.toString() })
      } catch (err) {
        const reason = (err as Error).message.replace(/\s+/g, ' ').slice(0, 300)
        log.info({ err: reason }, 'connection reversal: the dial back failed')
        await answer({ status: ReversalStatus.DIAL_FAILED, reason })
      }
    } finally {
      this.budget.release()
    }
  }

  /** Run identify on `connection` again (it updates the peer store), within REVERSAL_IDENTIFY_WAIT. */
  private async reidentify (connection: Connection): Promise<void> {
    const identify = (this.init.libp2p.services as { identify?: Identifier }).identify
    if (identify?.identify == null) return
    try {
      await identify.identify(connection, { signal: AbortSignal.any([this.init.shutdown, AbortSignal.timeout(REVERSAL_IDENTIFY_WAIT)]) })
    } catch (err) {
      this.init.log.debug({ err: (err as Error).message }, 'connection reversal: identify of the peer failed')
    }
  }

  /** The addresses the peer store holds for `peer` (from its identify). */
  private async announced (peer: PeerId): Promise<Multiaddr[]> {
    try {
      return (await this.init.libp2p.peerStore.get(peer)).addresses.map(a => a.multiaddr)
    } catch {
      return []
    }
  }
}

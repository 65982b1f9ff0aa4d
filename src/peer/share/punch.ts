import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { PUNCH_PROTOCOL, PunchNat, PunchStatus } from '../../signaling/index.ts'
import { answerPunch, closeQuietly } from '../punch/index.ts'
import type { PunchContext } from '../punch/index.ts'
import type { Logger } from '../logger.ts'
import { ReversalBudget } from './reversal.ts'

/** Punch attempts one peer may start within PUNCH_WINDOW. */
export const PUNCH_ATTEMPTS_PER_PEER = 3
/** The window of PUNCH_ATTEMPTS_PER_PEER, in ms. */
export const PUNCH_WINDOW = 10 * 60_000
/** Punches running at once over all peers (each holds up to 256 sockets on the hard side). */
export const MAX_PUNCHES_IN_FLIGHT = 1
/** How long one punch session may take on the share, in ms (the engine's 10 s, plus STUN and messages). */
const PUNCH_SESSION_TIMEOUT = 20_000
/** Punch streams per connection at once (a connector asks one at a time). */
const MAX_PUNCH_STREAMS = 1

/** Options and components of a {@link PunchService}. */
export interface PunchServiceInit {
  libp2p: Libp2p
  log: Logger
  /** The node's punch context (its NAT kind, the punched-port slot). */
  context: PunchContext
  /** The share's access policy: undefined when a peer with this proof may open tunnels, else why not. */
  authorize: (peer: PeerId, proof: Uint8Array | undefined) => string | undefined
  /** Ends running punches (the share closed). */
  shutdown: AbortSignal
  /** The caps. @default PUNCH_ATTEMPTS_PER_PEER in PUNCH_WINDOW, MAX_PUNCHES_IN_FLIGHT at once */
  budget?: ReversalBudget
}

/**
 * The share's side of `/beam/punch/1.0.0`: a connector whose tunnel is
 * relayed asks for a UDP hole punch (one of the two behind a symmetric NAT,
 * the other endpoint-independent or public). Only peers the access policy
 * admits, within the budget; on success the punched port goes to the next
 * WebRTC connection, which the connector dials through the relay.
 */
export class PunchService {
  private readonly init: PunchServiceInit
  private readonly budget: ReversalBudget

  constructor (init: PunchServiceInit) {
    this.init = init
    this.budget = init.budget ?? new ReversalBudget({ perPeer: PUNCH_ATTEMPTS_PER_PEER, window: PUNCH_WINDOW, maxInFlight: MAX_PUNCHES_IN_FLIGHT })
  }

  async start (): Promise<void> {
    await this.init.libp2p.handle(PUNCH_PROTOCOL, (stream, connection) => {
      this.serve(stream, connection).catch((err: Error) => {
        this.init.log.debug({ err: err.message }, 'punch stream failed')
        stream.abort(err)
      })
    }, { maxInboundStreams: MAX_PUNCH_STREAMS, maxOutboundStreams: 1, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    await this.init.libp2p.unhandle(PUNCH_PROTOCOL).catch(() => {})
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const { context, log } = this.init
    const peer = connection.remotePeer
    const signal = AbortSignal.any([this.init.shutdown, AbortSignal.timeout(PUNCH_SESSION_TIMEOUT)])
    const own = await context.ownNat(signal)
    let taken = false
    try {
      const result = await answerPunch(stream, {
        nat: own?.nat ?? PunchNat.UNKNOWN,
        stun: own?.stun ?? { ip: '0.0.0.0', port: 0 },
        signal,
        authorize: (offer) => {
          if (own == null) return PunchStatus.UNSUPPORTED
          if (this.init.authorize(peer, offer.proof) != null) return PunchStatus.UNAUTHORIZED
          if (this.budget.take(peer.toString()) != null) return PunchStatus.RATE_LIMITED
          taken = true
          return undefined
        },
        // the connector dials WebRTC once it has this side's outcome: the port must be offered first
        beforeDone: (r) => { context.ports.offer(r.localPort) }
      })
      closeQuietly(result.socket)
      log.info({ peer: peer.toString(), ms: result.ms, remote: `${result.remote.ip}:${result.remote.port}` }, 'hole punch: a working UDP pair with the connector; its next WebRTC connection takes the punched port')
      await stream.close().catch(() => {})
    } finally {
      if (taken) this.budget.release()
    }
  }
}

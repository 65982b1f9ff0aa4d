import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { TUNNEL_PROTOCOL, DEFAULT_HANDSHAKE_TIMEOUT, TunnelStatus, accessProof, sendTunnelRequest, statusName } from '../../signaling/index.ts'
import type { TunnelResponse } from '../../signaling/index.ts'
import { DEFAULT_MAX_HANDSHAKES_IN_FLIGHT, DEFAULT_MAX_TUNNEL_STREAMS } from '../constants.ts'
import { ServiceUnavailableError, ShareOverloadedError, TunnelProtocolError, TunnelRefusedError, UnknownPortError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { HandshakeSlots } from './handshake-slots.ts'
import { isStreamCapacityError, tunnelConnections } from './path.ts'

/** A local client's bytes that arrive before the tunnel is open (see {@link ConnectTunnel.openStream}). */
export interface EarlyData {
  /** What has arrived so far and not been taken, or undefined. */
  take: () => Uint8Array | undefined
  /** Call `onReadable` when more arrives (or the client's EOF); returns the way to stop. */
  watch: (onReadable: () => void) => () => void
}

/** Convert a non-OK response into the matching error. */
export function responseError (res: TunnelResponse): Error {
  switch (res.status) {
    case TunnelStatus.UNAUTHORIZED: return new TunnelRefusedError(res.reason)
    case TunnelStatus.UNKNOWN_PORT: return new UnknownPortError(res.reason)
    case TunnelStatus.SERVICE_UNAVAILABLE: return new ServiceUnavailableError(res.reason)
    case TunnelStatus.OVERLOADED: return new ShareOverloadedError(res.reason)
    default: return new TunnelProtocolError(`the share answered ${statusName(res.status)}: ${res.reason}`)
  }
}

/**
 * Sends the client's bytes into `stream` as they arrive, until the returned
 * function is called or the stream pushes back (the rest then waits in the
 * socket for the pipe, in order).
 */
function forwardEarly (stream: Stream, early: EarlyData): () => void {
  let full = false
  const onReadable = (): void => {
    while (!full && stream.status === 'open') {
      const chunk = early.take()
      if (chunk == null) return
      full = !stream.send(chunk)
    }
  }
  const unwatch = early.watch(onReadable)
  onReadable()
  return unwatch
}

/** Options and components of a {@link TunnelStreams}. */
export interface TunnelStreamsInit {
  /** The node that opens the streams. */
  libp2p: Libp2p
  /** The share's peer id. */
  peerId: PeerId
  /** The shared port asked for (0: the share's first). */
  remotePort: number
  /** The access secret from the connect string. @default unset (no proof sent) */
  secret?: Uint8Array | undefined
  /** Datagram (UDP) tunnels: the request carries the udp flag. @default false */
  udp?: boolean | undefined
  /** How long the share has to answer a tunnel request, in ms. @default 10000 */
  handshakeTimeout?: number | undefined
  /** Tunnel streams at once. @default 4096 */
  maxStreams?: number | undefined
  /** Handshakes in flight at once; the rest wait their turn. @default 32 */
  maxHandshakesInFlight?: number | undefined
  /** Logger of the owning tunnel. */
  log: Logger
  /**
   * A connection to the peer known to carry streams (the path keeper's);
   * with `limited`, a connection with limits will do (for the probe).
   */
  connection: (signal?: AbortSignal, options?: { limited?: boolean }) => Promise<Connection>
  /** Told of a connection a handshake went through on: it carries streams. */
  onVerified: (conn: Connection) => void
  /**
   * Told of a connection whose share has not answered a handshake within
   * `slowAfter` (a third of the handshake timeout): it may be dead (the share moved, a NAT
   * forgot it) and is checked at once rather than after the connection
   * monitor's timeouts. @default unset
   */
  onSlow?: ((conn: Connection) => void) | undefined
  /**
   * How long a handshake on `conn` may take before `onSlow` is told, in ms,
   * given `ceiling` (a third of the handshake timeout).
   * @default `ceiling`
   */
  slowAfter?: ((conn: Connection, ceiling: number) => number) | undefined
  /** Aborts every handshake (the owner closed). */
  shutdown: AbortSignal
}

/** Opens tunnel streams to the share: a stream, the tunnel request with its access proof, the share's answer. */
export class TunnelStreams {
  private readonly init: TunnelStreamsInit
  private readonly handshakeTimeout: number
  private readonly maxStreams: number
  private readonly slots: HandshakeSlots
  /** The access proof: the same for every tunnel of this connector (its peer id, the share's, the secret), so made once. */
  private proof: Uint8Array | undefined

  constructor (init: TunnelStreamsInit) {
    this.init = init
    this.handshakeTimeout = init.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT
    this.maxStreams = init.maxStreams ?? DEFAULT_MAX_TUNNEL_STREAMS
    this.slots = new HandshakeSlots(init.maxHandshakesInFlight ?? DEFAULT_MAX_HANDSHAKES_IN_FLIGHT)
  }

  /**
   * Open one tunnel stream and run the handshake; returns the raw stream.
   * `early` gives the local client's bytes that arrive before the share's
   * answer: what is there when the request goes out rides right behind it,
   * and what arrives while the answer is on its way follows at once. The
   * share takes them as the tunnel's first data once it accepts, and drops
   * them with the stream when it refuses. (With tunnel streams negotiated
   * optimistically the request leaves before a client that speaks first has
   * usually written anything: waiting for the answer before forwarding would
   * cost the round trip the optimistic select saves.)
   */
  async open (probe: boolean, signal?: AbortSignal, early?: EarlyData): Promise<Stream> {
    // a burst of local connections waits its turn here rather than trip the
    // share's cap of handshakes in progress (the handshake timeout starts
    // once the turn comes)
    const release = await this.slots.take(signal != null ? AbortSignal.any([this.init.shutdown, signal]) : this.init.shutdown)
    try {
      return await this.handshake(probe, signal, early)
    } finally {
      release()
    }
  }

  private async handshake (probe: boolean, signal?: AbortSignal, early?: EarlyData): Promise<Stream> {
    const { libp2p, peerId, log } = this.init
    // a probe is a few bytes of signalling and may cross a relay that limits
    // its connections; a tunnel never does (libp2p itself refuses the stream)
    let conn = await this.init.connection(signal, { limited: probe })
    const hsSignal = AbortSignal.any([this.init.shutdown, AbortSignal.timeout(this.handshakeTimeout), ...(signal != null ? [signal] : [])])
    const streamOptions = { signal: hsSignal, runOnLimitedConnection: probe, maxOutboundStreams: this.maxStreams }
    let stream: Stream
    try {
      stream = await conn.newStream(TUNNEL_PROTOCOL, streamOptions)
    } catch (err) {
      // a full connection (a WebRTC connection has ~1,024 data channels) is
      // not a dead one: carry this tunnel on another connection to the peer
      // (typically the relayed one a WebRTC path was upgraded from)
      const full = conn
      const other = isStreamCapacityError(err) ? tunnelConnections(libp2p.getConnections(peerId)).find(c => c.id !== full.id) : undefined
      if (other == null) throw err
      log.info({ full: full.remoteAddr.toString(), via: other.remoteAddr.toString(), err: (err as Error).message }, 'the connection takes no more streams; this tunnel goes over another connection to the peer')
      stream = await other.newStream(TUNNEL_PROTOCOL, streamOptions)
      conn = other
    }
    try {
      const proof = this.accessProof()
      const req = { port: this.init.remotePort, probe, ...(proof != null ? { proof } : {}), ...(this.init.udp === true ? { udp: true } : {}) }
      const first = early?.take()
      const answer = sendTunnelRequest(stream, req, first != null ? { signal: hsSignal, early: first } : { signal: hsSignal })
      const unwatch = early != null ? forwardEarly(stream, early) : undefined
      const onSlow = this.init.onSlow
      const used = conn
      const ceiling = Math.round(this.handshakeTimeout / 3)
      const slow = onSlow != null ? setTimeout(() => { onSlow(used) }, this.init.slowAfter?.(used, ceiling) ?? ceiling) : undefined
      let response: TunnelResponse
      let raw: Stream
      try {
        ({ response, stream: raw } = await answer)
      } finally {
        clearTimeout(slow)
        unwatch?.()
      }
      if (response.status !== TunnelStatus.OK) {
        throw responseError(response)
      }
      // a full handshake on it proves the connection carries streams
      this.init.onVerified(conn)
      return raw
    } catch (err) {
      if (stream.status === 'open') stream.abort(err as Error)
      throw err
    }
  }

  private accessProof (): Uint8Array | undefined {
    const secret = this.init.secret
    if (secret == null) return undefined
    this.proof ??= accessProof(secret, this.init.libp2p.peerId.toMultihash().bytes, this.init.peerId.toMultihash().bytes)
    return this.proof
  }
}

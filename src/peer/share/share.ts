import { EventEmitter } from 'node:events'
import type { Connection, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { AccessProofCache, TUNNEL_PROTOCOL, DEFAULT_HANDSHAKE_TIMEOUT, TunnelStatus, readTunnelRequest } from '../../signaling/index.ts'
import type { IncomingTunnel, TunnelRequest } from '../../signaling/index.ts'
import { DatagramStream, DEFAULT_DATAGRAM_IDLE_TIMEOUT, connectTcp, connectUdp, connectUnix, hostPort, pipeSocketStream } from '../../tunnel/index.ts'
import { DEFAULT_MAX_TUNNEL_STREAMS, DEFAULT_SERVICE_CONNECT_TIMEOUT, DEFAULT_SERVICE_HOST } from '../constants.ts'
import { InvalidOptionError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { BENCH_PROTOCOL, MAX_BENCH_STREAMS, serveBenchmark } from '../diagnostics/benchmark.ts'
import { ShareLimits, overloadReason } from './share-limits.ts'
import type { ShareLimitOptions } from './share-limits.ts'
import { ReversalService } from './reversal.ts'
import { PunchService } from './punch.ts'
import type { PunchContext } from '../punch/index.ts'
import type { ServiceTarget, SharedService, AccessPolicy, ShareOptions, TunnelOpenEvent, TunnelCloseEvent, LiveTunnel, RefusedEvent, ServiceUnavailableEvent, ShareEvents } from './events.ts'
export type { ServiceTarget, SharedService, AccessPolicy, ShareOptions, TunnelOpenEvent, TunnelCloseEvent, LiveTunnel, RefusedEvent, ServiceUnavailableEvent, ShareEvents } from './events.ts'

/** What a connector is told when the shared service does not accept: nothing of where the service runs. */
export const SERVICE_UNAVAILABLE_REASON = 'it did not accept the connection (the share\'s log says why)'

/** How often a share logs that a cap on handshakes in progress turned streams away, at most, in ms. */
const OVERFLOW_WARN_INTERVAL = 10_000
/**
 * How long a connection closed for failed handshakes stays up after the
 * refusal that closes it, for the peer to read that refusal, in ms: it goes
 * as soon as the peer ends the refused stream (a beam connector does on
 * reading it), at the latest after this.
 */
const REFUSAL_READ_GRACE_MS = 1000


/** Everything a {@link Share} is made of: the {@link ShareOptions} of the call and the node's parts it works with. */
export interface ShareInit extends ShareOptions {
  /** The node. */
  libp2p: Libp2p
  /** The share's logger (a child of the node's, `component: share`). */
  logger: Logger
  /** Called once the share has closed (the node forgets it). @default unset */
  onClose?: (() => void) | undefined
  /**
   * Dial back connectors that ask for it over a relayed connection
   * (connection reversal, reversal.ts). Off on anonymous-only nodes, which
   * dial nothing outside their network. @default true
   */
  reversal?: boolean
  /** Hole punching across one hard NAT (`/beam/punch/1.0.0`): the node's punch context, or undefined (off). @default undefined */
  punch?: PunchContext | undefined
}

/**
 * A running share: answers `/beam/tunnel/1.0.0` streams, checks access, and
 * joins each accepted stream to a new connection to the local service.
 */
export class Share extends EventEmitter<ShareEvents> {
  /** The services offered, `host` filled in. */
  readonly services: SharedService[]
  /** The access policy. */
  readonly access: AccessPolicy
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly serviceConnectTimeout: number
  private readonly handshakeTimeout: number
  private readonly maxStreams: number
  private readonly datagramIdleTimeout: number
  private readonly shutdown = new AbortController()
  private readonly active = new Set<AbortController>()
  private readonly live = new Map<number, TunnelOpenEvent & { counts: { readonly sent: number, readonly received: number } }>()
  private readonly limits: ShareLimits
  private lastOverflowWarn = -Infinity
  private readonly allowed: Set<string>
  private readonly gateways: Set<string>
  /** Expected access proofs per connector; only in secret mode. */
  private readonly proofs: AccessProofCache | undefined
  private nextId = 1
  private closed = false
  private readonly onClosed: (() => void) | undefined
  private readonly reversal: ReversalService | undefined
  private readonly punch: PunchService | undefined

  /** @internal made by {@link BeamNode.share} */
  constructor (options: ShareInit) {
    super()
    const { libp2p, logger: log } = options
    if (options.services.length === 0) throw new InvalidOptionError('a share needs at least one port')
    const seen = new Set<string>()
    this.services = options.services.map(s => {
      if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new InvalidOptionError(`invalid port ${s.port}: use 1-65535`)
      const key = `${s.port}/${s.udp === true ? 'udp' : 'tcp'}`
      if (seen.has(key)) throw new InvalidOptionError(`port ${s.udp === true ? key : s.port} is listed twice`)
      seen.add(key)
      if (s.path != null && (s.path === '' || s.path.includes('\0'))) throw new InvalidOptionError(`invalid unix socket path for port ${s.port}`)
      if (s.path != null && s.udp === true) throw new InvalidOptionError(`port ${s.port}: a UDP service cannot be a unix socket`)
      return { host: s.host ?? DEFAULT_SERVICE_HOST, port: s.port, ...(s.path != null ? { path: s.path } : {}), ...(s.udp === true ? { udp: true } : {}) }
    })
    this.datagramIdleTimeout = options.datagramIdleTimeout ?? DEFAULT_DATAGRAM_IDLE_TIMEOUT
    this.access = options.access
    this.allowed = new Set(options.access.mode === 'allow' ? options.access.peers : [])
    this.gateways = new Set(options.gateways ?? [])
    this.libp2p = libp2p
    this.proofs = options.access.mode === 'secret' ? new AccessProofCache(options.access.secret, libp2p.peerId.toMultihash().bytes) : undefined
    this.log = log
    this.serviceConnectTimeout = options.serviceConnectTimeout ?? DEFAULT_SERVICE_CONNECT_TIMEOUT
    this.handshakeTimeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_TUNNEL_STREAMS
    this.limits = new ShareLimits(options)
    this.onClosed = options.onClose
    this.reversal = options.reversal === false
      ? undefined
      : new ReversalService({
        libp2p,
        log,
        // a dial-back is a service to peers that may open tunnels, nobody else
        authorize: (peer, proof) => this.authorize(peer, proof != null ? { port: 0, probe: true, proof } : { port: 0, probe: true }),
        shutdown: this.shutdown.signal
      })
    this.punch = options.punch == null || !options.punch.possible
      ? undefined
      : new PunchService({
        libp2p,
        log,
        context: options.punch,
        // a punch is a service to peers that may open tunnels, nobody else
        authorize: (peer, proof) => this.authorize(peer, proof != null ? { port: 0, probe: true, proof } : { port: 0, probe: true }),
        shutdown: this.shutdown.signal
      })
  }

  /** Register the protocol handler. */
  async start (): Promise<void> {
    await this.libp2p.handle(TUNNEL_PROTOCOL, (stream, connection) => {
      if (!this.admitHandshake(stream, connection)) return
      this.onStream(stream, connection).catch(err => {
        this.log.error({ err }, 'tunnel stream handler failed')
      })
    }, {
      maxInboundStreams: this.maxStreams,
      maxOutboundStreams: this.maxStreams,
      // probes run over a limited relay (signalling); tunnels are refused there (onStream)
      runOnLimitedConnection: true
    })
    // `beam benchmark`: answered only for peers a tunnel would be opened for,
    // and never over a connection with limits (libp2p resets those streams)
    await this.libp2p.handle(BENCH_PROTOCOL, (stream, connection) => {
      if (!this.admitHandshake(stream, connection)) return
      const remotePeer = connection.remotePeer.toString()
      const log = this.log.child({ peer: remotePeer, protocol: BENCH_PROTOCOL })
      let pending = true
      let holding = false
      void serveBenchmark(stream, {
        authorize: proof => this.authorize(connection.remotePeer, { port: 0, probe: true, proof }),
        onRefused: reason => { this.emit('refused', { remotePeer, reason }) },
        onRequestRead: () => {
          if (pending) this.limits.endHandshake(remotePeer)
          pending = false
        },
        onHandshakeFailed: why => { this.handshakeFailed(connection, log, why) },
        acquire: () => {
          const refusal = this.limits.openTunnel(remotePeer)
          if (refusal == null) holding = true
          return refusal != null ? overloadReason(refusal) : undefined
        },
        log,
        signal: this.shutdown.signal
      }).finally(() => {
        if (pending) this.limits.endHandshake(remotePeer)
        if (holding) this.limits.closeTunnel(remotePeer)
      })
    }, { maxInboundStreams: MAX_BENCH_STREAMS, maxOutboundStreams: MAX_BENCH_STREAMS, runOnLimitedConnection: false })
    await this.reversal?.start()
    await this.punch?.start()
  }

  /** Number of tunnels open right now. */
  get openTunnels (): number {
    return this.active.size
  }

  /** The tunnels joined to a service now, with their byte counts so far. */
  liveTunnels (): LiveTunnel[] {
    return [...this.live.values()].map(t => ({ id: t.id, remotePeer: t.remotePeer, host: t.host, port: t.port, ...(t.path != null ? { path: t.path } : {}), ...(t.udp === true ? { udp: true as const } : {}), sent: t.counts.sent, received: t.counts.received }))
  }

  /** Streams that have not sent their request yet, over all peers. */
  get pendingHandshakes (): number {
    return this.limits.pendingHandshakes
  }

  /**
   * Take a handshake slot for a new stream, or reset the stream at once when
   * its peer or the share is at its cap of handshakes in progress. A
   * connector's request follows its stream at once: only a flood of streams
   * that send nothing (or an extreme burst) gets here.
   */
  private admitHandshake (stream: Stream, connection: Connection): boolean {
    const peer = connection.remotePeer.toString()
    if (!this.closed && this.limits.beginHandshake(peer)) return true
    stream.abort(new Error(this.closed ? 'share is closing' : 'too many handshakes in progress'))
    if (this.closed) return false
    const now = performance.now()
    if (now - this.lastOverflowWarn >= OVERFLOW_WARN_INTERVAL) {
      this.lastOverflowWarn = now
      this.log.warn({ peer, pending: this.limits.pendingHandshakes, perPeer: this.limits.maxPendingHandshakesPerPeer, total: this.limits.maxPendingHandshakes },
        'too many streams waiting for their request: new streams are reset (logged at most every 10 s)')
    }
    return false
  }

  /**
   * A handshake a correct connector with access never produces: counted on
   * its connection, which is closed once it has maxHandshakeFailures of them
   * (after any answer sent on the stream, which the caller has awaited).
   */
  /**
   * Counts a failed handshake against the connection and closes it past the
   * limit. With `answered` (the stream a refusal was just written to) the
   * connection closes once the peer has ended that stream, or after
   * {@link REFUSAL_READ_GRACE_MS}: closed at once, the refusal, the stream's
   * end and the connection's can reach the peer in one message, and a reader
   * that had not attached yet then finds the stream closed with the refusal
   * unread (libp2p 3.3: a stream closed with its connection reads as ended).
   */
  private handshakeFailed (connection: Connection, log: Logger, why: string, answered?: Stream): void {
    if (this.closed || !this.limits.handshakeFailed(connection) || connection.status !== 'open') return
    log.warn({ failures: this.limits.maxHandshakeFailures, last: why }, 'closing the connection of a peer whose tunnel handshakes keep failing')
    const close = (): void => {
      clearTimeout(timer)
      answered?.removeEventListener('close', close)
      if (connection.status !== 'open') return
      connection.close({ signal: AbortSignal.timeout(2000) }).catch((err: Error) => { connection.abort(err) })
    }
    const waiting = answered != null && answered.status === 'open' && !this.shutdown.signal.aborted
    const timer = waiting ? setTimeout(close, REFUSAL_READ_GRACE_MS) : undefined
    if (!waiting) { close(); return }
    answered.addEventListener('close', close)
  }

  /** Stop accepting tunnels and reset the open ones. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.libp2p.unhandle(TUNNEL_PROTOCOL).catch(() => {})
    await this.libp2p.unhandle(BENCH_PROTOCOL).catch(() => {})
    await this.reversal?.stop()
    await this.punch?.stop()
    this.shutdown.abort()
    for (const c of this.active) c.abort()
    this.onClosed?.()
  }

  private authorize (remotePeer: Connection['remotePeer'], req: TunnelRequest): string | undefined {
    const access = this.access
    if (access.mode === 'public') return undefined
    // a gateway the share opted in to carries its web visitors
    if (this.gateways.has(remotePeer.toString())) return undefined
    if (access.mode === 'allow') {
      return this.allowed.has(remotePeer.toString()) ? undefined : 'this peer is not on the share\'s allow-list'
    }
    if (req.proof == null) return 'this share needs the access secret from its connect string (a bare peer id is not enough)'
    return this.proofs?.verify(remotePeer, req.proof) === true ? undefined : 'wrong access secret (outdated or mistyped connect string?)'
  }

  private async respondAndClose (incoming: IncomingTunnel, stream: Stream, status: TunnelStatus, reason: string): Promise<void> {
    const signal = AbortSignal.timeout(2000)
    try {
      await incoming.respond({ status, reason }, { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /**
   * An accepted datagram tunnel: a UDP socket of its own connected to the
   * service, datagrams both ways until the stream ends or is idle.
   */
  private async serveDatagrams (incoming: IncomingTunnel, stream: Stream, service: SharedService, remotePeer: string, log: Logger, signal: AbortSignal): Promise<void> {
    let socket: Awaited<ReturnType<typeof connectUdp>>
    try {
      socket = await connectUdp(service.host, service.port, { signal })
    } catch (err) {
      const reason = (err as Error).message
      log.warn({ service: `${hostPort(service.host, service.port)}/udp`, reason }, 'shared UDP service unavailable')
      this.emit('service:unavailable', { remotePeer, host: service.host, port: service.port, udp: true, reason })
      await this.respondAndClose(incoming, stream, TunnelStatus.SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_REASON)
      return
    }
    try {
      try {
        await incoming.respond({ status: TunnelStatus.OK, reason: '' }, { signal: AbortSignal.timeout(this.handshakeTimeout) })
      } catch (err) {
        stream.abort(err as Error)
        return
      }
      const id = this.nextId++
      log.debug({ tunnel: id, service: `${hostPort(service.host, service.port)}/udp` }, 'datagram tunnel open')
      this.emit('tunnel:open', { id, remotePeer, host: service.host, port: service.port, udp: true })
      const datagrams = new DatagramStream(incoming.unwrap(), {
        deliver: (d) => { socket.send(d) },
        idleTimeout: this.datagramIdleTimeout,
        signal
      })
      socket.on('message', (m: Buffer) => { datagrams.send(m) })
      // live counts for liveTunnels(): the payload bytes so far (sent: to the peer)
      const progress = datagrams.progress
      this.live.set(id, { id, remotePeer, host: service.host, port: service.port, udp: true, counts: { get sent () { return progress.sentBytes }, get received () { return progress.receivedBytes } } })
      let result
      try {
        result = await datagrams.done
      } finally {
        this.live.delete(id)
      }
      const ev: TunnelCloseEvent = { id, remotePeer, host: service.host, port: service.port, udp: true, sent: result.sentBytes, received: result.receivedBytes }
      if (result.error != null) ev.error = result.error.message
      log.debug({ tunnel: id, datagramsSent: result.sent, datagramsReceived: result.received, dropped: result.dropped }, 'datagram tunnel closed')
      this.emit('tunnel:close', ev)
    } finally {
      socket.close()
    }
  }

  /** One tunnel stream, with a handshake slot taken by {@link admitHandshake}. */
  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const remotePeer = connection.remotePeer.toString()
    const log = this.log.child({ peer: remotePeer })
    let incoming: IncomingTunnel
    const timeout = AbortSignal.timeout(this.handshakeTimeout)
    try {
      incoming = await readTunnelRequest(stream, { signal: AbortSignal.any([this.shutdown.signal, timeout]) })
    } catch (err) {
      const message = (err as Error).message
      stream.abort(err as Error)
      // a stream its peer ended or reset costs nothing more; silence and garbage count against the connection
      if (timeout.aborted || isMalformed(err)) {
        log.warn({ err: message }, 'bad or missing tunnel request; stream reset')
        this.handshakeFailed(connection, log, timeout.aborted ? 'no request in time' : message)
      } else {
        log.debug({ err: message }, 'tunnel stream ended before its request')
      }
      return
    } finally {
      this.limits.endHandshake(remotePeer)
    }
    const req = incoming.request
    const refusal = this.authorize(connection.remotePeer, req)
    if (refusal != null) {
      log.warn({ reason: refusal }, 'refused tunnel')
      this.emit('refused', { remotePeer, reason: refusal })
      await this.respondAndClose(incoming, stream, TunnelStatus.UNAUTHORIZED, refusal)
      this.handshakeFailed(connection, log, refusal, stream)
      return
    }
    const udp = req.udp === true
    const ofKind = this.services.filter(s => (s.udp === true) === udp)
    const service = req.port === 0 ? ofKind[0] : ofKind.find(s => s.port === req.port)
    if (service == null) {
      const reason = `${udp ? 'UDP ' : ''}port ${req.port === 0 ? '(default)' : req.port} is not shared (shared: ${this.services.map(describePort).join(', ')})`
      log.warn({ port: req.port }, 'tunnel asked for a port that is not shared')
      await this.respondAndClose(incoming, stream, TunnelStatus.UNKNOWN_PORT, reason)
      return
    }
    // a relay that limits its connections (data or time) cuts a tunnel
    // within KiB: the connection serves probes and signalling only, and a
    // tunnel waits for a direct path (a beam connector never asks for one here)
    if (connection.limits != null && !req.probe) {
      log.warn({ remote: connection.remoteAddr.toString() }, 'tunnel refused: it came over a relay that limits its connections')
      await this.respondAndClose(incoming, stream, TunnelStatus.LIMITED_CONNECTION, LIMITED_CONNECTION_REASON)
      return
    }
    // a probe answers what a tunnel would get now; it holds no slot
    const full = req.probe ? this.limits.checkTunnel(remotePeer) : this.limits.openTunnel(remotePeer)
    if (full != null) {
      const reason = overloadReason(full)
      log.warn({ scope: full.scope, limit: full.limit }, 'tunnel refused: the share is at its cap on open tunnels')
      await this.respondAndClose(incoming, stream, TunnelStatus.OVERLOADED, reason)
      return
    }
    if (req.probe) {
      await this.respondAndClose(incoming, stream, TunnelStatus.OK, `ready (port ${service.port})`)
      return
    }
    const ctl = new AbortController()
    this.active.add(ctl)
    try {
      if (udp) {
        await this.serveDatagrams(incoming, stream, service, remotePeer, log, ctl.signal)
        return
      }
      const where = service.path != null ? { path: service.path } : {}
      let socket
      try {
        const connectOptions = { timeout: this.serviceConnectTimeout, signal: ctl.signal }
        socket = service.path != null ? await connectUnix(service.path, connectOptions) : await connectTcp(service.host, service.port, connectOptions)
      } catch (err) {
        // the detail (host, port, error code) stays here: the connector learns only that the service is unavailable
        const reason = (err as Error).message
        log.warn({ service: describeService(service), reason }, 'shared service unavailable')
        this.emit('service:unavailable', { remotePeer, host: service.host, port: service.port, ...where, reason })
        await this.respondAndClose(incoming, stream, TunnelStatus.SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_REASON)
        return
      }
      try {
        await incoming.respond({ status: TunnelStatus.OK, reason: '' }, { signal: AbortSignal.timeout(this.handshakeTimeout) })
      } catch (err) {
        socket.destroy()
        stream.abort(err as Error)
        return
      }
      const id = this.nextId++
      log.debug({ tunnel: id, service: describeService(service) }, 'tunnel open')
      this.emit('tunnel:open', { id, remotePeer, host: service.host, port: service.port, ...where })
      const counts = { sent: 0, received: 0 }
      this.live.set(id, { id, remotePeer, host: service.host, port: service.port, ...where, counts })
      let result
      try {
        result = await pipeSocketStream(socket, incoming.unwrap(), { signal: ctl.signal, counts })
      } finally {
        this.live.delete(id)
      }
      const ev: TunnelCloseEvent = { id, remotePeer, host: service.host, port: service.port, ...where, sent: result.sent, received: result.received }
      if (result.error != null) {
        ev.error = result.error.message
        log.debug({ tunnel: id, err: result.error.message }, 'tunnel reset')
      } else {
        log.debug({ tunnel: id, sent: result.sent, received: result.received }, 'tunnel closed')
      }
      this.emit('tunnel:close', ev)
    } finally {
      this.active.delete(ctl)
      this.limits.closeTunnel(remotePeer)
    }
  }
}

/** A service in the log: `host:port`, or its unix socket. */
function describeService (s: SharedService): string {
  return s.path != null ? `unix:${s.path}` : hostPort(s.host, s.port)
}

/** A service's port as a connector names it: `53/udp`, `8080`. */
function describePort (s: ServiceTarget): string {
  return s.udp === true ? `${s.port}/udp` : String(s.port)
}

/** The answer to a tunnel over a connection with limits. */
const LIMITED_CONNECTION_REASON = 'this connection goes through a relay that limits its connections (data or time): it carries signalling, not tunnels; use a direct path or a relay without limits'

/** A request that broke the protocol (oversized frame, unknown version, undecodable): not a peer that went away. */
function isMalformed (err: unknown): boolean {
  return err instanceof Error && ['HandshakeError', 'UnsupportedVersionError', 'InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError'].includes(err.name)
}

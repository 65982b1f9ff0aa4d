import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import { TUNNEL_PROTOCOL, DEFAULT_HANDSHAKE_TIMEOUT, TunnelStatus, accessProof, sendTunnelRequest, statusName } from '../signaling/index.ts'
import type { TunnelResponse } from '../signaling/index.ts'
import { listenTcp, pipeSocketStream } from '../tunnel/index.ts'
import type { LocalListener } from '../tunnel/index.ts'
import { DEFAULT_DIAL_TIMEOUT, DEFAULT_LOCAL_HOST, DEFAULT_MAX_TUNNEL_STREAMS } from './constants.ts'
import { InvalidOptionError, PeerUnreachableError, ServiceUnavailableError, TunnelProtocolError, TunnelRefusedError, UnknownPortError } from './errors.ts'
import type { Logger } from './logger.ts'
import { bestConnection, pathOf, pingConnection, rankConnections } from './path.ts'
import type { PathInfo } from './path.ts'

/** How long a new connection has to answer a ping before it is passed over, in ms. */
const VERIFY_TIMEOUT = 5000

export interface ConnectOptions {
  /** The share's port to reach; 0 = the share's first port. @default 0 */
  remotePort?: number
  /** Local address to bind. @default '127.0.0.1' */
  host?: string
  /** Local port to bind; 0 = any free port. @default 0 */
  port?: number
  /** How long one dial of the peer may take, in ms. @default 30000 */
  dialTimeout?: number
  /** How long the share has to answer a tunnel request, in ms. @default 10000 */
  handshakeTimeout?: number
  /** Tunnel streams at once. @default 4096 */
  maxStreams?: number
  /**
   * Check reachability and access before binding the local port, so that a
   * refusal surfaces at once instead of on the first local connection.
   * @default true
   */
  probe?: boolean
  signal?: AbortSignal
}

export interface ConnectTunnelOpenEvent { id: number, remotePort: number }
export interface ConnectTunnelCloseEvent { id: number, sent: number, received: number, error?: string }
export interface ConnectTunnelFailedEvent { id: number, error: Error }

export interface ConnectEvents {
  /** The path new streams take changed (or was first found). */
  path: [PathInfo]
  /** A local client was joined to the shared service. */
  'tunnel:open': [ConnectTunnelOpenEvent]
  'tunnel:close': [ConnectTunnelCloseEvent]
  /** A local client could not be joined (peer unreachable, refused, service down); its socket was closed. */
  'tunnel:failed': [ConnectTunnelFailedEvent]
  /** The share refused this peer; every new local client will be closed too. */
  refused: [TunnelRefusedError]
  /** The peer is no longer connected; the next local client redials. */
  disconnected: []
}

/** Convert a non-OK response into the matching error. */
export function responseError (res: TunnelResponse): Error {
  switch (res.status) {
    case TunnelStatus.UNAUTHORIZED: return new TunnelRefusedError(res.reason)
    case TunnelStatus.UNKNOWN_PORT: return new UnknownPortError(res.reason)
    case TunnelStatus.SERVICE_UNAVAILABLE: return new ServiceUnavailableError(res.reason)
    default: return new TunnelProtocolError(`the share answered ${statusName(res.status)}: ${res.reason}`)
  }
}

/**
 * The connecting side of a tunnel: a local TCP port whose every connection is
 * carried in its own stream to the share.
 */
export class ConnectTunnel extends EventEmitter<ConnectEvents> {
  readonly peerId: PeerId
  readonly remotePort: number
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly secret: Uint8Array | undefined
  private readonly opts: Required<Omit<ConnectOptions, 'signal' | 'host' | 'port' | 'remotePort' | 'probe'>>
  private readonly shutdown = new AbortController()
  private readonly active = new Set<AbortController>()
  private listener: LocalListener | undefined
  private currentPath: PathInfo | undefined
  private pathCheck: Promise<void> | undefined
  private pathDirty = false
  private readonly verified = new Set<string>()
  private nextId = 1
  private closed = false
  private readonly onConnectionEvent: (evt: CustomEvent<Connection>) => void
  private readonly onClosed: () => void

  constructor (libp2p: Libp2p, peerId: PeerId, secret: Uint8Array | undefined, options: ConnectOptions, log: Logger, onClosed: () => void) {
    super()
    const remotePort = options.remotePort ?? 0
    if (!Number.isInteger(remotePort) || remotePort < 0 || remotePort > 65535) throw new InvalidOptionError(`invalid remote port ${remotePort}`)
    this.libp2p = libp2p
    this.peerId = peerId
    this.secret = secret
    this.remotePort = remotePort
    this.log = log
    this.onClosed = onClosed
    this.opts = {
      dialTimeout: options.dialTimeout ?? DEFAULT_DIAL_TIMEOUT,
      handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      maxStreams: options.maxStreams ?? DEFAULT_MAX_TUNNEL_STREAMS
    }
    this.onConnectionEvent = (evt) => {
      if (evt.detail.remotePeer.equals(this.peerId)) this.schedulePathCheck()
    }
  }

  /** Local address clients connect to. */
  get host (): string { return this.listener?.host ?? '' }
  get port (): number { return this.listener?.port ?? 0 }
  /** The path new streams take now, if connected. */
  get path (): PathInfo | undefined { return this.currentPath }

  /** Probe (optional) and bind the local port. */
  async start (options: ConnectOptions): Promise<void> {
    const signal = options.signal
    if (options.probe !== false) {
      await this.probe(signal)
    }
    this.libp2p.addEventListener('connection:open', this.onConnectionEvent)
    this.libp2p.addEventListener('connection:close', this.onConnectionEvent)
    this.listener = await listenTcp(options.host ?? DEFAULT_LOCAL_HOST, options.port ?? 0, (socket) => {
      this.onLocalSocket(socket).catch(err => { this.log.error({ err }, 'local connection handler failed') })
    })
    this.schedulePathCheck()
  }

  /** Open a connection (or reuse the best one) to the peer. */
  async connection (signal?: AbortSignal): Promise<Connection> {
    const existing = this.usableConnection()
    if (existing != null) return existing
    const dialSignal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.opts.dialTimeout), ...(signal != null ? [signal] : [])])
    this.log.info({ peer: this.peerId.toString() }, 'dialing peer')
    try {
      const conn = await this.libp2p.dial(this.peerId, { signal: dialSignal })
      return this.usableConnection() ?? conn
    } catch (err) {
      if (signal?.aborted === true || this.shutdown.signal.aborted) throw err
      const detail = dialSignal.aborted ? `no answer within ${this.opts.dialTimeout} ms` : describeDialError(err)
      throw new PeerUnreachableError(this.peerId.toString(), detail, err)
    }
  }

  /** Open one tunnel stream and run the handshake; returns the raw stream. */
  async openStream (probe: boolean, signal?: AbortSignal): Promise<Stream> {
    const conn = await this.connection(signal)
    const hsSignal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.opts.handshakeTimeout), ...(signal != null ? [signal] : [])])
    const stream = await conn.newStream(TUNNEL_PROTOCOL, {
      signal: hsSignal,
      runOnLimitedConnection: true,
      maxOutboundStreams: this.opts.maxStreams
    })
    try {
      const proof = this.secret != null
        ? accessProof(this.secret, this.libp2p.peerId.toMultihash().bytes, this.peerId.toMultihash().bytes)
        : undefined
      const req = proof != null ? { port: this.remotePort, probe, proof } : { port: this.remotePort, probe }
      const { response, stream: raw } = await sendTunnelRequest(stream, req, { signal: hsSignal })
      if (response.status !== TunnelStatus.OK) {
        throw responseError(response)
      }
      // a full handshake on it proves the connection carries streams
      this.verified.add(conn.id)
      return raw
    } catch (err) {
      if (stream.status === 'open') stream.abort(err as Error)
      throw err
    }
  }

  private async probe (signal?: AbortSignal): Promise<void> {
    const raw = await this.openStream(true, signal)
    await raw.close({ signal: AbortSignal.timeout(2000) }).catch(() => { raw.abort(new Error('probe close timed out')) })
  }

  private async onLocalSocket (socket: Socket): Promise<void> {
    const id = this.nextId++
    if (this.closed) {
      socket.destroy()
      return
    }
    const ctl = new AbortController()
    this.active.add(ctl)
    socket.on('error', () => {})
    try {
      let stream: Stream
      try {
        stream = await this.openStream(false, ctl.signal)
      } catch (err) {
        const e = err as Error
        this.log.warn({ tunnel: id, err: e.message }, 'cannot open tunnel; closing the local connection')
        socket.resetAndDestroy()
        this.emit('tunnel:failed', { id, error: e })
        if (e instanceof TunnelRefusedError) this.emit('refused', e)
        return
      }
      this.log.debug({ tunnel: id, via: stream.protocol, conns: this.libp2p.getConnections(this.peerId).map(c => c.remoteAddr.toString()) }, 'tunnel open')
      this.emit('tunnel:open', { id, remotePort: this.remotePort })
      const result = await pipeSocketStream(socket, stream, { signal: ctl.signal })
      const ev: ConnectTunnelCloseEvent = { id, sent: result.sent, received: result.received }
      if (result.error != null) ev.error = result.error.message
      this.emit('tunnel:close', ev)
    } finally {
      this.active.delete(ctl)
    }
  }

  private schedulePathCheck (): void {
    this.pathDirty = true
    if (this.pathCheck != null || this.closed) return
    this.pathCheck = (async () => {
      while (this.pathDirty && !this.closed) {
        this.pathDirty = false
        await this.checkPath()
      }
    })().finally(() => { this.pathCheck = undefined })
  }

  /**
   * Re-evaluate the path. A connection carries new tunnel streams only once a
   * ping on it has come back: in @libp2p/webrtc 6.0.33 a failed attempt can
   * leave an "open" WebRTC connection whose data channel never opens, and
   * streams on it would hang. Streams already open stay where they are.
   */
  private async checkPath (): Promise<void> {
    const open = this.libp2p.getConnections(this.peerId).filter(c => c.status === 'open')
    for (const id of this.verified) if (!open.some(c => c.id === id)) this.verified.delete(id)
    const best = bestConnection(open)
    if (best == null) {
      if (this.currentPath != null) {
        this.currentPath = undefined
        this.log.warn({ peer: this.peerId.toString() }, 'connection to the peer lost; the next local connection redials')
        this.emit('disconnected')
      }
      return
    }
    let rttMs: number | undefined
    let chosen: Connection | undefined
    // from the best down, the first connection that answers a ping
    for (const conn of rankConnections(open)) {
      try {
        rttMs = await pingConnection(conn, { signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(VERIFY_TIMEOUT)]) })
        this.verified.add(conn.id)
        chosen = conn
        break
      } catch (err) {
        this.log.info({ remote: conn.remoteAddr.toString(), err: (err as Error).message }, 'connection does not answer pings; not using it for new tunnels')
        this.verified.delete(conn.id)
      }
    }
    if (this.closed || chosen == null) return
    const path: PathInfo = { ...pathOf(chosen), ...(rttMs != null ? { rttMs } : {}) }
    if (this.currentPath?.remote === path.remote && this.currentPath.direct === path.direct) return
    this.currentPath = path
    this.emit('path', path)
  }

  /** The connection new streams should use: the best verified one. */
  private usableConnection (): Connection | undefined {
    const open = this.libp2p.getConnections(this.peerId)
    return bestConnection(open.filter(c => this.verified.has(c.id))) ?? bestConnection(open)
  }

  /** Unbind the local port, reset open tunnels. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.shutdown.abort()
    this.libp2p.removeEventListener('connection:open', this.onConnectionEvent)
    this.libp2p.removeEventListener('connection:close', this.onConnectionEvent)
    for (const c of this.active) c.abort()
    const listener = this.listener
    // the listener's close waits for its sockets; they were reset above
    if (listener != null) await listener.close()
    this.onClosed()
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

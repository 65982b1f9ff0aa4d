import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import { TUNNEL_PROTOCOL, DEFAULT_HANDSHAKE_TIMEOUT, TunnelStatus, accessProof, sendTunnelRequest, statusName } from '../../signaling/index.ts'
import type { TunnelResponse } from '../../signaling/index.ts'
import { listenTcp, pipeSocketStream } from '../../tunnel/index.ts'
import type { LocalListener } from '../../tunnel/index.ts'
import { DEFAULT_DIAL_TIMEOUT, DEFAULT_LOCAL_HOST, DEFAULT_MAX_TUNNEL_STREAMS } from '../constants.ts'
import { InvalidOptionError, PeerUnreachableError, ServiceUnavailableError, ShareOverloadedError, TunnelProtocolError, TunnelRefusedError, UnknownPortError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { bestConnection, isStreamCapacityError, pathOf, pingConnection, rankConnections, transportOf } from './path.ts'
import { DialRaceError, classifyAddress, raceDial, webrtcViaRelay } from './dialer.ts'
import type { RacingPeers } from './dialer.ts'
import type { DialAttempt } from './dialer.ts'
import type { PathInfo } from './path.ts'

/** How long a new connection has to answer a ping before it is passed over, in ms. */
const VERIFY_TIMEOUT = 10_000
/** How long one WebRTC upgrade attempt may take, in ms. */
const UPGRADE_TIMEOUT = 15_000
/** Backoff between upgrade attempts after a failure: first retry, then doubling from MIN up to MAX, in ms. */
const UPGRADE_RETRY_FIRST = 5_000
const UPGRADE_RETRY_MIN = 30_000
const UPGRADE_RETRY_MAX = 300_000

/** Options of {@link BeamNode.connect}. */
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
  /**
   * Try to move a relayed tunnel to a direct WebRTC path (ICE through the
   * peer's relay, STUN/TURN from the node's ICE servers), retrying with backoff.
   * @default true
   */
  upgrade?: boolean
  /** Aborts the dial and probe during the call; no effect on the tunnel once the call has resolved (use `close()`). @default unset */
  signal?: AbortSignal
}

/** {@link ConnectEvents} `tunnel:open`: a local client was joined to the shared service. */
export interface ConnectTunnelOpenEvent {
  /** Number of the tunnel, unique within this ConnectTunnel. */
  id: number
  /** The shared port asked for (0: the share's first). */
  remotePort: number
}
/** {@link ConnectEvents} `tunnel:close`: a local client's tunnel ended. */
export interface ConnectTunnelCloseEvent {
  /** Number of the tunnel. */
  id: number
  /** Bytes from the local client to the share. */
  sent: number
  /** Bytes from the share to the local client. */
  received: number
  /** Set when it ended by an error or a reset. */
  error?: string
}
/** {@link ConnectEvents} `tunnel:failed`: a local client could not be joined. */
export interface ConnectTunnelFailedEvent {
  /** Number of the tunnel. */
  id: number
  /** Why: PeerUnreachableError, TunnelRefusedError, UnknownPortError, ServiceUnavailableError, ShareOverloadedError, … */
  error: Error
}
/** Progress of an attempt to replace a relayed path with a direct one. */
export interface UpgradeEvent {
  /** How the direct path is sought. */
  technique: 'webrtc'
  /** Where the attempt stands. */
  state: 'trying' | 'succeeded' | 'failed'
  /** The address tried. */
  address: string
  /** Time the attempt took, in ms (when finished). */
  ms?: number
  /** When failed: why. */
  error?: string
  /** When failed: the next attempt, in ms from now. */
  retryInMs?: number
}

/** Events of a {@link ConnectTunnel}. */
export interface ConnectEvents {
  /** The path new streams take changed (or was first found). */
  path: [PathInfo]
  /** A local client was joined to the shared service. */
  'tunnel:open': [ConnectTunnelOpenEvent]
  /** A local client's tunnel ended. */
  'tunnel:close': [ConnectTunnelCloseEvent]
  /** A local client could not be joined (peer unreachable, refused, service down); its socket was closed. */
  'tunnel:failed': [ConnectTunnelFailedEvent]
  /** The share refused this peer; every new local client will be closed too. */
  refused: [TunnelRefusedError]
  /** The peer is no longer connected; the next local client redials. */
  disconnected: []
  /** Dialling the peer: the addresses tried and how each went. */
  dial: [{
    /** Each address tried. */
    attempts: DialAttempt[]
    /** Whether a connection was made. */
    ok: boolean
  }]
  /** An attempt to upgrade a relayed path to a direct one. */
  upgrade: [UpgradeEvent]
}

/** Convert a non-OK response into the matching error. */
/** Handshakes tried before `beam connect` gives up on a connection that keeps failing under it. */
const PROBE_ATTEMPTS = 3

/** A probe failure that another attempt cannot change: the share's answer, or a dial that already failed. */
function isFinalProbeError (err: unknown): boolean {
  return err instanceof TunnelRefusedError || err instanceof UnknownPortError || err instanceof ServiceUnavailableError || err instanceof ShareOverloadedError ||
    err instanceof TunnelProtocolError || err instanceof PeerUnreachableError ||
    (err instanceof Error && ['HandshakeError', 'UnsupportedVersionError', 'UnsupportedProtocolError'].includes(err.name))
}

/** A local client's bytes that arrive before the tunnel is open (see {@link ConnectTunnel.openStream}). */
export interface EarlyData {
  /** What has arrived so far and not been taken, or undefined. */
  take: () => Uint8Array | undefined
  /** Call `onReadable` when more arrives (or the client's EOF); returns the way to stop. */
  watch: (onReadable: () => void) => () => void
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
 * The connecting side of a tunnel: a local TCP port whose every connection is
 * carried in its own stream to the share.
 */
export class ConnectTunnel extends EventEmitter<ConnectEvents> {
  /** The share's peer id. */
  readonly peerId: PeerId
  /** The shared port asked for (0: the share's first). */
  readonly remotePort: number
  private readonly libp2p: Libp2p
  private readonly log: Logger
  private readonly secret: Uint8Array | undefined
  /** The access proof: the same for every tunnel of this connector (its peer id, the share's, the secret), so made once. */
  private proof: Uint8Array | undefined
  private readonly opts: Required<Omit<ConnectOptions, 'signal' | 'host' | 'port' | 'remotePort' | 'probe'>>
  /** Every dial and upgrade attempt so far, newest last (bounded), for diagnostics. */
  readonly attempts: Array<DialAttempt & {
    /** Set for upgrade attempts, e.g. 'webrtc'. */
    technique?: string
  }> = []
  private upgrading = false
  private upgradeFailures = 0
  private nextUpgradeAt = 0
  private upgradeTimer: ReturnType<typeof setTimeout> | undefined
  private readonly shutdown = new AbortController()
  private readonly active = new Set<AbortController>()
  private listener: LocalListener | undefined
  private currentPath: PathInfo | undefined
  private pathCheck: Promise<void> | undefined
  private pathDirty = false
  private readonly verified = new Set<string>()
  private readonly pings = new Map<string, Promise<number>>()
  private nextId = 1
  private closed = false
  private readonly onConnectionEvent: (evt: CustomEvent<Connection>) => void
  private readonly onClosed: () => void

  /** Fresh addresses for the peer (a DHT lookup), used when every known one fails. */
  private readonly refresh: ((signal: AbortSignal) => Promise<Multiaddr[]>) | undefined

  /** Peers this node is racing dials for (shared with the node's DHT). */
  private readonly racing: RacingPeers | undefined

  /** @internal made by {@link BeamNode.connect} */
  constructor (libp2p: Libp2p, peerId: PeerId, secret: Uint8Array | undefined, options: ConnectOptions, log: Logger, onClosed: () => void, refresh?: (signal: AbortSignal) => Promise<Multiaddr[]>, racing?: RacingPeers) {
    super()
    this.racing = racing
    const remotePort = options.remotePort ?? 0
    if (!Number.isInteger(remotePort) || remotePort < 0 || remotePort > 65535) throw new InvalidOptionError(`invalid remote port ${remotePort}`)
    this.libp2p = libp2p
    this.peerId = peerId
    this.secret = secret
    this.remotePort = remotePort
    this.log = log
    this.onClosed = onClosed
    this.refresh = refresh
    this.opts = {
      dialTimeout: options.dialTimeout ?? DEFAULT_DIAL_TIMEOUT,
      handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
      maxStreams: options.maxStreams ?? DEFAULT_MAX_TUNNEL_STREAMS,
      upgrade: options.upgrade ?? true
    }
    this.onConnectionEvent = (evt) => {
      if (evt.detail.remotePeer.equals(this.peerId)) this.schedulePathCheck()
    }
  }

  /** Local address clients connect to. */
  get host (): string { return this.listener?.host ?? '' }
  /** Local port clients connect to. */
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

  /**
   * A connection to the peer that is known to carry streams: the best one a
   * ping has already proven, else the first of the open ones to answer a ping
   * (dialling first if none is open). A connection that does not answer (the
   * WebRTC failure mode in checkPath's comment) is closed and, if nothing else
   * is left, the peer is dialled once more.
   */
  async connection (signal?: AbortSignal): Promise<Connection> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const open = this.libp2p.getConnections(this.peerId).filter(c => c.status === 'open')
      const proven = bestConnection(open.filter(c => this.verified.has(c.id)))
      if (proven != null) return proven
      const candidates = open.length > 0 ? open : [await this.dial(signal)]
      const answered = await this.firstAnswering(candidates, signal)
      if (answered != null) return answered
      // Only WebRTC has the "open but dead" failure; a TCP/QUIC/relayed
      // connection that missed the ping deadline is slow, not dead: use it and
      // let the tunnel handshake (with its own timeout) be the proof.
      const plain = rankConnections(candidates.filter(c => transportOf(c.remoteAddr) !== 'webrtc'))[0]
      for (const c of candidates) {
        if (transportOf(c.remoteAddr) !== 'webrtc') continue
        this.log.info({ remote: c.remoteAddr.toString() }, 'WebRTC connection does not carry streams; closing it')
        c.abort(new Error('connection does not answer pings'))
      }
      if (plain != null) {
        this.log.warn({ remote: plain.remoteAddr.toString() }, 'no ping answer within the deadline; trying the connection anyway')
        return plain
      }
    }
    throw new PeerUnreachableError(this.peerId.toString(), 'connected, but no connection to the peer carries streams')
  }

  private async dial (signal?: AbortSignal): Promise<Connection> {
    const dialSignal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.opts.dialTimeout), ...(signal != null ? [signal] : [])])
    const known = await this.knownAddresses()
    const direct = known.filter(a => classifyAddress(a) === 'direct').length
    const relayed = known.filter(a => classifyAddress(a) === 'relayed').length
    try {
      if (direct + relayed === 0) {
        this.log.info({ peer: this.peerId.toString() }, 'dialing peer (no known address: asking the network)')
        return await this.libp2p.dial(this.peerId, { signal: dialSignal })
      }
      this.log.info({ peer: this.peerId.toString(), direct, relayed }, `dialing peer: ${direct} direct and ${relayed} relayed address(es)`)
      try {
        const { connection, attempts } = await raceDial(this.libp2p, this.peerId, known, this.log, { signal: dialSignal, racing: this.racing })
        this.record(attempts)
        this.emit('dial', { attempts, ok: true })
        return connection
      } catch (err) {
        if (!(err instanceof DialRaceError) || this.refresh == null || dialSignal.aborted) throw err
        this.record(err.attempts)
        this.emit('dial', { attempts: err.attempts, ok: false })
        // every known address failed: they may be stale; ask the DHT once
        this.log.info({ peer: this.peerId.toString() }, 'no known address answered; looking the peer up again')
        const fresh = (await this.refresh(dialSignal)).filter(a => !known.some(k => k.equals(a)))
        if (fresh.length === 0) throw err
        await this.libp2p.peerStore.patch(this.peerId, { multiaddrs: fresh })
        const { connection, attempts } = await raceDial(this.libp2p, this.peerId, fresh, this.log, { signal: dialSignal, racing: this.racing })
        this.record(attempts)
        this.emit('dial', { attempts, ok: true })
        return connection
      }
    } catch (err) {
      if (err instanceof DialRaceError) {
        this.record(err.attempts)
        this.emit('dial', { attempts: err.attempts, ok: false })
      }
      if (signal?.aborted === true || this.shutdown.signal.aborted) throw err
      const detail = dialSignal.aborted ? `no answer within ${this.opts.dialTimeout} ms` : describeDialError(err)
      throw new PeerUnreachableError(this.peerId.toString(), detail, err)
    }
  }

  private accessProof (): Uint8Array | undefined {
    if (this.secret == null) return undefined
    this.proof ??= accessProof(this.secret, this.libp2p.peerId.toMultihash().bytes, this.peerId.toMultihash().bytes)
    return this.proof
  }

  private async knownAddresses (): Promise<Multiaddr[]> {
    try {
      const peer = await this.libp2p.peerStore.get(this.peerId)
      return peer.addresses.map(a => a.multiaddr)
    } catch {
      return []
    }
  }

  private record (attempts: Array<DialAttempt & { technique?: string }>): void {
    this.attempts.push(...attempts)
    if (this.attempts.length > 100) this.attempts.splice(0, this.attempts.length - 100)
  }

  /**
   * One ping on `conn`; marks it verified and returns the RTT. Concurrent
   * callers share the ping in flight (libp2p allows one outbound ping stream
   * per connection; a second one would fail and look like a dead connection).
   */
  private async verify (conn: Connection, signal: AbortSignal): Promise<number> {
    let p = this.pings.get(conn.id)
    if (p == null) {
      p = pingConnection(conn, { signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(VERIFY_TIMEOUT)]) })
      this.pings.set(conn.id, p)
      p.then(() => { this.verified.add(conn.id) }, () => {}).finally(() => { this.pings.delete(conn.id) })
    }
    const rtt = await raceAbort(p, signal)
    this.verified.add(conn.id)
    return rtt
  }

  /** Ping all candidates at once; the first to answer (marked verified), or undefined. */
  private async firstAnswering (candidates: Connection[], signal?: AbortSignal): Promise<Connection | undefined> {
    const stop = new AbortController()
    const pingSignal = AbortSignal.any([stop.signal, this.shutdown.signal, AbortSignal.timeout(VERIFY_TIMEOUT), ...(signal != null ? [signal] : [])])
    try {
      return await Promise.any(candidates.map(async (c) => {
        await this.verify(c, pingSignal)
        return c
      }))
    } catch {
      if (signal?.aborted === true) throw signal.reason
      return undefined
    } finally {
      stop.abort()
    }
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
  async openStream (probe: boolean, signal?: AbortSignal, early?: EarlyData): Promise<Stream> {
    let conn = await this.connection(signal)
    const hsSignal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.opts.handshakeTimeout), ...(signal != null ? [signal] : [])])
    const streamOptions = { signal: hsSignal, runOnLimitedConnection: true, maxOutboundStreams: this.opts.maxStreams }
    let stream: Stream
    try {
      stream = await conn.newStream(TUNNEL_PROTOCOL, streamOptions)
    } catch (err) {
      // a full connection (a WebRTC connection has ~1,024 data channels) is
      // not a dead one: carry this tunnel on another connection to the peer
      // (typically the relayed one a WebRTC path was upgraded from)
      const full = conn
      const other = isStreamCapacityError(err) ? rankConnections(this.libp2p.getConnections(this.peerId)).find(c => c.id !== full.id) : undefined
      if (other == null) throw err
      this.log.info({ full: full.remoteAddr.toString(), via: other.remoteAddr.toString(), err: (err as Error).message }, 'the connection takes no more streams; this tunnel goes over another connection to the peer')
      stream = await other.newStream(TUNNEL_PROTOCOL, streamOptions)
      conn = other
    }
    try {
      const proof = this.accessProof()
      const req = proof != null ? { port: this.remotePort, probe, proof } : { port: this.remotePort, probe }
      const first = early?.take()
      const answer = sendTunnelRequest(stream, req, first != null ? { signal: hsSignal, early: first } : { signal: hsSignal })
      const unwatch = early != null ? forwardEarly(stream, early) : undefined
      let response: TunnelResponse
      let raw: Stream
      try {
        ({ response, stream: raw } = await answer)
      } finally {
        unwatch?.()
      }
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

  /**
   * The first handshake. The share's answers (refused, unknown port, an
   * incompatible beam) and a failed dial end it; a connection that dies under
   * the handshake (a relay that goes away, a ping timeout on a loaded host)
   * is dialled again, PROBE_ATTEMPTS times in all, and then reported as an
   * unreachable peer rather than an internal error.
   */
  private async probe (signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const raw = await this.openStream(true, signal)
        await raw.close({ signal: AbortSignal.timeout(2000) }).catch(() => { raw.abort(new Error('probe close timed out')) })
        return
      } catch (err) {
        if (signal?.aborted === true || this.shutdown.signal.aborted || isFinalProbeError(err)) throw err
        const message = (err as Error).message
        if (attempt >= PROBE_ATTEMPTS) throw new PeerUnreachableError(this.peerId.toString(), `the connection failed during the handshake ${attempt} times (last: ${message})`, err)
        this.log.info({ peer: this.peerId.toString(), attempt, err: message }, 'the connection failed during the handshake; dialling again')
        await new Promise(resolve => setTimeout(resolve, 500 * attempt))
      }
    }
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
      // What the local client sent while the stream was being opened goes
      // with the tunnel request: a client that speaks first (an HTTP request,
      // a TLS hello) then has its answer one round trip sooner. The pipe sees
      // the rest, and an EOF that came with those bytes (socket.readableEnded).
      let early = 0
      const earlyData: EarlyData = {
        take: () => {
          if (socket.readableLength === 0 || socket.destroyed) return undefined
          const chunk: unknown = socket.read()
          if (!(chunk instanceof Uint8Array)) return undefined
          early += chunk.byteLength
          return chunk
        },
        watch: (onReadable) => {
          socket.on('readable', onReadable)
          return () => { socket.off('readable', onReadable) }
        }
      }
      // the listener accepts sockets paused: read(0) starts filling the
      // socket's buffer (up to its high-water mark, then the kernel's window
      // holds the client back) without switching it to flowing mode
      socket.read(0)
      try {
        stream = await this.openStream(false, ctl.signal, earlyData)
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
      const ev: ConnectTunnelCloseEvent = { id, sent: early + result.sent, received: result.received }
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
        rttMs = await this.verify(conn, AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(VERIFY_TIMEOUT)]))
        chosen = conn
        break
      } catch (err) {
        this.log.info({ remote: conn.remoteAddr.toString(), err: (err as Error).message }, 'connection does not answer pings; not using it for new tunnels')
        this.verified.delete(conn.id)
      }
    }
    if (this.closed || chosen == null) return
    const path: PathInfo = { ...pathOf(chosen), ...(rttMs != null ? { rttMs } : {}) }
    if (path.transport === 'relay') this.maybeUpgrade(chosen)
    if (this.currentPath?.remote === path.remote && this.currentPath.direct === path.direct) return
    this.currentPath = path
    this.emit('path', path)
  }

  /**
   * Start a WebRTC hole punch through the relay of a relayed connection,
   * unless one is running or the backoff after a failure has not passed. A
   * connection it makes carries new streams only after checkPath's ping.
   */
  private maybeUpgrade (relayed: Connection): void {
    if (!this.opts.upgrade || this.upgrading || this.closed) return
    const wait = this.nextUpgradeAt - Date.now()
    if (wait > 0) {
      if (this.upgradeTimer == null) {
        this.upgradeTimer = setTimeout(() => { this.upgradeTimer = undefined; this.schedulePathCheck() }, wait)
        this.upgradeTimer.unref()
      }
      return
    }
    const address = webrtcViaRelay(relayed.remoteAddr, this.peerId)
    if (address == null) return
    this.upgrading = true
    void (async () => {
      const offersWebrtc = (await this.knownAddresses()).some(a => classifyAddress(a) === 'webrtc')
      if (!offersWebrtc) {
        this.log.debug({ peer: this.peerId.toString() }, 'the peer offers no WebRTC address; staying on the relay')
        this.nextUpgradeAt = Date.now() + UPGRADE_RETRY_MAX
        return
      }
      const text = address.toString()
      this.log.info({ address: text }, 'relayed; trying a direct path (WebRTC hole punch through the relay)')
      this.emit('upgrade', { technique: 'webrtc', state: 'trying', address: text })
      const start = performance.now()
      try {
        const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(UPGRADE_TIMEOUT)])
        await this.libp2p.dial(address, { signal, force: true })
        const ms = Math.round(performance.now() - start)
        this.upgradeFailures = 0
        this.record([{ address: text, kind: 'webrtc', ok: true, ms, technique: 'webrtc' }])
        this.emit('upgrade', { technique: 'webrtc', state: 'succeeded', address: text, ms })
      } catch (err) {
        if (this.closed) return
        const ms = Math.round(performance.now() - start)
        // the first retry comes soon (a busy machine or a lost ICE packet), then backoff
        const retryInMs = this.upgradeFailures === 0 ? UPGRADE_RETRY_FIRST : Math.min(UPGRADE_RETRY_MIN * 2 ** (this.upgradeFailures - 1), UPGRADE_RETRY_MAX)
        this.upgradeFailures++
        this.nextUpgradeAt = Date.now() + retryInMs
        const error = (err as Error).message
        this.record([{ address: text, kind: 'webrtc', ok: false, ms, error, technique: 'webrtc' }])
        this.log.warn({ address: text, err: error, retryInS: retryInMs / 1000 }, 'no direct path (WebRTC failed); the tunnel stays on the relay')
        this.emit('upgrade', { technique: 'webrtc', state: 'failed', address: text, ms, error, retryInMs })
      }
    })().finally(() => {
      this.upgrading = false
      this.schedulePathCheck()
    })
  }

  /** Unbind the local port, reset open tunnels. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.shutdown.abort()
    if (this.upgradeTimer != null) clearTimeout(this.upgradeTimer)
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

/** `p`, or a rejection as soon as `signal` aborts (p keeps running). */
async function raceAbort<T> (p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}

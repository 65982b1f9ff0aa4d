import { EventEmitter } from 'node:events'
import type { Readable, Writable } from 'node:stream'
import type { PipeResult } from '../../tunnel/index.ts'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import { InvalidOptionError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { DialAttempt, RacingPeers } from './dialer.ts'
import type { ConnectEvents, ConnectLiveTunnel, ConnectOptions } from './events.ts'
import { knownAddresses } from '../discovery/known-addresses.ts'
import { LocalClients } from './local-listener.ts'
import { LocalDatagrams } from './local-datagrams.ts'
import type { PathInfo } from './path.ts'
import { PathKeeper } from './path-keeper.ts'
import { probeShare } from './probe.ts'
import { PeerDialer } from './redial.ts'
import { TunnelStreams } from './tunnel-stream.ts'
import type { EarlyData } from './tunnel-stream.ts'
import { PathUpgrader } from './upgrade.ts'
import { DirectPathWait } from './direct-wait.ts'
import { ConnectionReversal } from './reversal.ts'
import { Reconnector } from './reconnect.ts'
import { isLimited } from './limits.ts'
import { punchBeforeUpgrade } from './punch.ts'
import type { PunchContext } from '../punch/index.ts'

export type { ConnectOptions, ConnectEvents, ConnectLiveTunnel, ConnectTunnelOpenEvent, ConnectTunnelCloseEvent, ConnectTunnelFailedEvent, UpgradeEvent, LimitedRelayEvent, RedialEvent } from './events.ts'
export type { EarlyData } from './tunnel-stream.ts'
export { responseError } from './tunnel-stream.ts'
export { describeDialError } from './redial.ts'

/** Attempts kept in {@link ConnectTunnel.attempts}, newest last. */
const MAX_ATTEMPTS = 100

/**
 * Everything a {@link ConnectTunnel} is made of: the {@link ConnectOptions}
 * of the call (its `signal` goes to `start()`, which it bounds) and the
 * node's parts it works with.
 */
export interface ConnectTunnelInit extends Omit<ConnectOptions, 'signal'> {
  /** The node. */
  libp2p: Libp2p
  /** The share's peer id. */
  peerId: PeerId
  /** The access secret from the connect string. @default unset */
  secret?: Uint8Array | undefined
  /** The tunnel's logger (a child of the node's, `component: connect`). */
  logger: Logger
  /** Called once the tunnel has closed (the node forgets it). @default unset */
  onClose?: (() => void) | undefined
  /** Fresh addresses for the peer (a DHT lookup), used when every known one fails. @default unset */
  refresh?: ((signal: AbortSignal) => Promise<Multiaddr[]>) | undefined
  /** Peers this node is racing dials for (shared with the node's DHT). @default unset */
  racing?: RacingPeers | undefined
  /** This node's dialable addresses, unconfirmed listen addresses included (connection reversal). @default libp2p's getMultiaddrs() */
  ownAddresses?: (() => Multiaddr[]) | undefined
  /** Make identify tell these own listen addresses to peers (connection reversal). @default unset */
  vouch?: ((addrs: Multiaddr[]) => void) | undefined
  /** Hole punching across one hard NAT before a WebRTC upgrade: the node's punch context, or undefined (off). @default undefined */
  punch?: PunchContext | undefined
}

// ConnectTunnel coordinates parts with one job each: the local port and
// early data (local-listener.ts), a tunnel stream and its handshake
// (tunnel-stream.ts), the first handshake (probe.ts), the connection new
// streams take and the `path` event (path-keeper.ts), the dial race with the
// DHT refresh, repeated with backoff within the dial timeout (redial.ts),
// the redial of a lost share for as long as the tunnel runs (reconnect.ts),
// relayed to direct WebRTC with backoff (upgrade.ts), the share dialling
// back a dialable connector (reversal.ts), and the wait for a direct path when only a relay with
// limits reaches the share (direct-wait.ts). Each gets its options and
// components in one init object.

/**
 * The connecting side of a tunnel: a local TCP port whose every connection is
 * carried in its own stream to the share.
 */
export class ConnectTunnel extends EventEmitter<ConnectEvents> {
  /** The share's peer id. */
  readonly peerId: PeerId
  /** The shared port asked for (0: the share's first). */
  readonly remotePort: number
  /** Every dial and upgrade attempt so far, newest last (bounded), for diagnostics. */
  readonly attempts: Array<DialAttempt & {
    /** Set for upgrade attempts, e.g. 'webrtc'. */
    technique?: string
  }> = []

  private readonly log: Logger
  private readonly onClose: (() => void) | undefined
  private readonly shutdown = new AbortController()
  private readonly paths: PathKeeper
  private readonly streams: TunnelStreams
  private readonly upgrader: PathUpgrader
  private readonly reversal: ConnectionReversal
  private readonly clients: LocalClients
  private readonly probe: boolean
  private readonly bind: boolean
  /** The local UDP port of a UDP tunnel (then `clients` binds nothing). */
  private readonly datagrams: LocalDatagrams | undefined

  /** @internal made by {@link BeamNode.connect} */
  constructor (init: ConnectTunnelInit) {
    super()
    const remotePort = init.remotePort ?? 0
    if (!Number.isInteger(remotePort) || remotePort < 0 || remotePort > 65535) throw new InvalidOptionError(`invalid remote port ${remotePort}`)
    if (init.udp === true && init.socketPath != null) throw new InvalidOptionError('a UDP tunnel binds a UDP port, not a unix socket')
    const { libp2p, peerId, logger: log } = init
    const shutdown = this.shutdown.signal
    this.peerId = peerId
    this.remotePort = remotePort
    this.log = log
    this.onClose = init.onClose
    this.probe = init.probe !== false
    const addresses = async (): Promise<Multiaddr[]> => await knownAddresses(libp2p, peerId)
    const record = (attempts: Array<DialAttempt & { technique?: string }>): void => {
      this.attempts.push(...attempts)
      if (this.attempts.length > MAX_ATTEMPTS) this.attempts.splice(0, this.attempts.length - MAX_ATTEMPTS)
    }
    const dialer = new PeerDialer({
      libp2p,
      peerId,
      log,
      knownAddresses: addresses,
      refresh: init.refresh,
      racing: init.racing,
      dialTimeout: init.dialTimeout,
      shutdown,
      onDial: (attempts, ok) => {
        record(attempts)
        this.emit('dial', { attempts, ok })
      }
    })
    this.upgrader = new PathUpgrader({
      libp2p,
      peerId,
      log,
      events: this,
      knownAddresses: addresses,
      record,
      onSettled: () => { this.paths.schedule() },
      shutdown,
      enabled: init.upgrade ?? true,
      punch: init.punch?.possible === true
        ? async (relayed, signal) => await punchBeforeUpgrade({ libp2p, peerId, secret: init.secret, context: init.punch as PunchContext, log }, relayed, signal)
        : undefined
    })
    this.reversal = new ConnectionReversal({
      libp2p,
      peerId,
      secret: init.secret,
      ownAddresses: init.ownAddresses,
      vouch: init.vouch,
      log,
      events: this,
      record,
      onSettled: () => { this.paths.schedule() },
      shutdown,
      enabled: init.reversal ?? true
    })
    if (init.onLimited != null) this.on('limited', init.onLimited)
    // the two ways to a direct path run side by side; the first that connects carries the next tunnels
    const direct = new DirectPathWait({
      libp2p,
      peerId,
      log,
      events: this,
      timeout: init.directPathTimeout,
      upgrade: (limited) => { this.upgrader.maybeUpgrade(limited); this.reversal.maybeReverse(limited) },
      blocked: () => {
        const webrtc = this.upgrader.blocked()
        const reversal = this.reversal.blocked()
        return webrtc != null && reversal != null ? `${webrtc}, and ${reversal}` : undefined
      },
      explain: async () => [this.reversal.explain(), this.upgrader.blocked() ?? await this.upgrader.explain()].filter(w => w != null).join('; '),
      webrtcOff: () => this.upgrader.blocked() != null,
      shutdown
    })
    // a lost share is redialled in the background, for as long as the tunnel runs
    const reconnector = new Reconnector({
      peerId,
      log,
      events: this,
      round: async (signal) => await dialer.round(signal),
      connected: () => libp2p.getConnections(peerId).some(c => c.status === 'open' && !isLimited(c)),
      onConnected: () => { this.paths.schedule() },
      roundTimeout: dialer.dialTimeout,
      shutdown
    })
    this.paths = new PathKeeper({
      libp2p,
      peerId,
      log,
      events: this,
      dial: async (signal) => await dialer.dial(signal),
      onRelayed: (relayed) => { this.upgrader.maybeUpgrade(relayed); this.reversal.maybeReverse(relayed) },
      waitDirect: async (limited, signal) => await direct.wait(limited, signal),
      onLost: () => { reconnector.start() },
      shutdown
    })
    this.streams = new TunnelStreams({
      libp2p,
      peerId,
      remotePort,
      secret: init.secret,
      udp: init.udp,
      handshakeTimeout: init.handshakeTimeout,
      maxStreams: init.maxStreams,
      maxHandshakesInFlight: init.maxHandshakesInFlight,
      log,
      connection: async (signal) => await this.paths.connection(signal),
      onVerified: (conn) => { this.paths.markVerified(conn) },
      onSlow: (conn) => { this.paths.suspect(conn) },
      slowAfter: (conn, ceiling) => this.paths.slowMark(conn, ceiling),
      shutdown
    })
    this.bind = init.bind !== false
    this.datagrams = init.udp === true
      ? new LocalDatagrams({
        host: init.host,
        port: init.port,
        remotePort,
        idleTimeout: init.datagramIdleTimeout,
        maxSessions: init.maxDatagramSessions,
        log,
        events: this,
        open: async (signal) => await this.openStream(false, signal),
        shutdown
      })
      : undefined
    this.clients = new LocalClients({
      host: init.host,
      port: init.port,
      path: init.socketPath,
      remotePort,
      log,
      events: this,
      open: async (signal, early) => await this.openStream(false, signal, early),
      describeConnections: () => libp2p.getConnections(peerId).map(c => c.remoteAddr.toString()),
      shutdown
    })
  }

  /** Local address clients connect to ('' with a unix socket or without a bound port). */
  get host (): string { return this.datagrams?.host ?? this.clients.host }
  /** Local port clients connect to (0 with a unix socket or without a bound port). */
  get port (): number { return this.datagrams?.port ?? this.clients.port }
  /** The unix socket clients connect to, when the tunnel listens on one. */
  get socketPath (): string | undefined { return this.clients.path }
  /** The local clients joined to the share now, with their byte counts so far (`sent`: to the share). */
  liveTunnels (): ConnectLiveTunnel[] { return [...this.clients.liveTunnels(), ...(this.datagrams?.liveTunnels() ?? [])] }
  /** The path new streams take now, if connected. */
  get path (): PathInfo | undefined { return this.paths.path }

  /**
   * Probe (unless the options said not to) and bind the local port. `signal`
   * aborts the probe. When the probe went over a relay that limits its
   * connections, this also waits for a connection that may carry tunnels (a
   * direct path signalled through that relay), up to `directPathTimeout`.
   */
  async start (options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    if (this.probe) {
      await probeShare({ open: async (signal) => await this.openStream(true, signal), peerId: this.peerId, log: this.log, shutdown: this.shutdown.signal, signal: options.signal })
      // a tunnel path before the port opens: a connector that cannot carry a tunnel says so now
      await this.paths.connection(options.signal)
    }
    this.paths.start()
    if (this.datagrams != null) await this.datagrams.start()
    else if (this.bind) await this.clients.start()
    this.paths.schedule()
  }

  /**
   * Carry one tunnel between `input` and `output`, e.g. a process's standard
   * input and output (what an SSH ProxyCommand speaks). Resolves when the
   * share's side has ended and its bytes are written out (or the tunnel
   * failed: the result's `error`); an end of `input` is passed on as a
   * half-close. Rejects when the tunnel cannot open (refused, unreachable).
   * Emits `tunnel:open`/`tunnel:close`/`tunnel:failed` like a local client.
   * `signal` resets the tunnel.
   */
  async pipe (input: Readable, output: Writable, options: { signal?: AbortSignal | undefined } = {}): Promise<PipeResult> {
    if (this.datagrams != null) throw new InvalidOptionError('a UDP tunnel carries datagrams, not a byte stream')
    return await this.clients.pipe(input, output, options.signal)
  }

  /**
   * A connection to the peer that is known to carry streams: the best one a
   * ping has already proven, else the first of the open ones to answer a ping
   * (dialling first if none is open). A connection that does not answer (the
   * WebRTC failure mode in checkPath's comment) is closed and, if nothing else
   * is left, the peer is dialled once more.
   */
  async connection (signal?: AbortSignal): Promise<Connection> {
    return await this.paths.connection(signal)
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
    return await this.streams.open(probe, signal, early)
  }

  /** Unbind the local port, reset open tunnels. Idempotent. */
  async close (): Promise<void> {
    if (this.shutdown.signal.aborted) return
    this.shutdown.abort()
    this.upgrader.close()
    this.reversal.close()
    this.paths.stop()
    // the local port's close waits for its sockets; they are reset first
    await this.clients.close()
    await this.datagrams?.close()
    this.onClose?.()
  }
}

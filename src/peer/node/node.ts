import { EventEmitter } from 'node:events'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { AddressBook } from '../discovery/address-book.ts'
import { encodeConnectString } from '../discovery/connect-string.ts'
import { AlreadySharingError, InvalidOptionError, InvalidTargetError, NodeStoppedError, PeerNotFoundError } from '../errors.ts'
import { HOP_PROTOCOL, RelayAccounting, RelayGuard, resolveRelayLimits, STOP_PROTOCOL } from '../../relay/index.ts'
import type { RelayCounters, RelayLimits, RelayService } from '../../relay/index.ts'
import { ephemeralIdentity } from './identity.ts'
import { libp2pOptions } from '../libp2p/libp2p-options.ts'
import type { BeamServices, IceServer, TransportSelection } from '../libp2p/libp2p-options.ts'
import { libp2pComponentLogger, silentLogger } from '../logger.ts'
import type { Logger } from '../logger.ts'
import { Share } from '../share/share.ts'
import type { ShareOptions } from '../share/share.ts'
import { ConnectTunnel } from '../connect/connect.ts'
import { RacingPeers, raceDial } from '../connect/dialer.ts'
import type { ConnectOptions } from '../connect/connect.ts'
import { parseTarget } from '../discovery/target.ts'
import type { Duplex } from 'node:stream'
import type { Stream } from '@libp2p/interface'
import { streamToDuplex } from '../../tunnel/index.ts'
import { CALL_PROTOCOL, MESSAGE_PROTOCOL, answerCall, checkSize, readMessage, writeCall, writeMessage } from './app.ts'
import type { AppSender, CallHandler, MessageHandler } from './app.ts'
import { Records } from '../discovery/records.ts'
import { pathOf } from '../connect/path.ts'
import { relayOfCircuit } from './connectivity.ts'
import { PeerUnreachableError } from '../errors.ts'
import { DEFAULT_DIAL_TIMEOUT } from '../constants.ts'
import { looksLikeConnectString } from '../discovery/connect-string.ts'
import { NamePrefixError, checkNamePrefix, lookupName, lookupPeer, parseNameTarget, publish } from '../discovery/discovery.ts'
import { DEFAULT_DHT_PROTOCOL, DEFAULT_LOOKUP_TIMEOUT, REPUBLISH_INTERVAL } from '../constants.ts'
import type { Target } from '../discovery/target.ts'
import { BackendUnavailableError, carriedBy, directBackend } from '../../backends/index.ts'
import type { Backend } from '../../backends/index.ts'
import { runBenchmark } from '../diagnostics/benchmark.ts'
import { ConnectivityMonitor } from './connectivity.ts'
import type { AddressesEvent, PeerPathEvent, RelayEvent } from './connectivity.ts'
import { NodeNotStartedError } from '../errors.ts'
import { probeNat, stunTargets } from '../diagnostics/nat-probe.ts'
import type { NatReport } from '../diagnostics/nat-probe.ts'
import type { BenchmarkOptions, BenchResult } from '../diagnostics/benchmark.ts'

/** Options of {@link createBeam}: every field is optional. */
export interface BeamInit {
  /** The node's identity. @default a new in-memory Ed25519 key (a new peer id each run) */
  privateKey?: PrivateKey
  /** Multiaddrs to listen on. @default [] (dial only; shares pass DEFAULT_SHARE_LISTEN) */
  listen?: string[]
  /** Addresses to announce instead of the listening ones. @default [] */
  announce?: string[]
  /** Bootstrap/relay nodes dialled at start (failures are logged, not fatal). @default [] */
  bootstrap?: Multiaddr[]
  /** ICE servers for WebRTC. @default [] (no third-party STUN server is ever contacted by default) */
  iceServers?: IceServer[]
  /** Pin WebRTC ICE to this local address; for loopback-only tests. @default unset */
  webrtcBindAddress?: string
  /** Transports to run. @default all on: tcp, quic, websockets, webrtc, relay */
  transports?: TransportSelection
  /**
   * Relay reservations to hold, so that peers that cannot reach this node
   * directly can come through a relay (from the bootstrap nodes that offer
   * relaying). Also listens for WebRTC upgrades of relayed connections.
   * @default 0
   */
  reservations?: number
  /** Run a relay server with these limits (what `beam relay` does). @default unset (no relay server) */
  relayServer?: RelayLimits
  /** With `relayServer`: only these peer ids may reserve. @default [] (anyone) */
  relayAllow?: string[]
  /** File that remembers peers' addresses, for connecting by peer id. @default unset (no memory) */
  addressBook?: string
  /**
   * The Kademlia DHT, used to find shares by peer id or name: `false` turns it
   * off. Relays (relayServer) are DHT servers; every other node is a client
   * (it looks up and publishes, but stores nothing for others and answers no
   * DHT query) unless `server` is set. `status().dht.mode` tells which.
   * @default { protocol: '/ipfs/kad/1.0.0' }
   */
  dht?: false | {
    /** The Kademlia protocol id. @default '/ipfs/kad/1.0.0' (the Amino DHT's) */
    protocol?: string
    /**
     * Store other peers' records and answer queries (relays always do). Only
     * for a node others can reach for days: a server behind a NAT or one that
     * stops soon leaves holes in everyone's routing tables. @default false
     */
    server?: boolean
  }
  /** How long a DHT lookup may take, in ms. @default 30000 */
  lookupTimeout?: number
  /**
   * Networks to use, e.g. `[torBackend({ … })]` or `[torBackend(), directBackend]`.
   * Without `direct` in the list the node is anonymous-only (Tor-only when
   * the list is just tor): no TCP/QUIC/WebSockets/WebRTC/relay transport, no
   * clearnet listener, no bootstrap dial, no DHT, no STUN; every address the
   * backends do not carry (connect strings, the address book, identify, the
   * peer store) is dropped before it is stored, resolved or dialled, and no
   * name is resolved (no DNS query). `listen` may then hold only backend
   * addresses. @default [directBackend] (beam's own networking only)
   */
  backends?: Backend[]
  /**
   * Also listen on every backend's own listen addresses (a share over Tor:
   * an onion service). Connectors leave it off. @default false
   */
  listenOnBackends?: boolean
  /** Logger (a pino logger fits, see {@link Logger}); each component logs through a child of it. @default silent */
  logger?: Logger
  /**
   * Start the node before createBeam resolves. `false` returns a node that
   * is built but not started: attach event listeners and handlers, then call
   * {@link BeamNode.start}. @default true
   */
  start?: boolean
}

/** Events of a {@link BeamNode}. */
export interface BeamNodeEvents {
  /** A bootstrap node could not be reached at start. */
  'bootstrap:failed': [{
    /** The bootstrap node's address. */
    multiaddr: string
    /** Why the dial failed. */
    error: Error
  }]
  /** Every bootstrap node is reachable-or-failed and none runs a relay. */
  'bootstrap:no-relay': []
  /** A DHT lookup of a peer started, found it, or failed. */
  lookup: [{
    /** The peer looked up. */
    peerId: string
    /** Where the lookup stands. */
    state: 'started' | 'found' | 'failed'
    /** When found: how many addresses. */
    addresses?: number
    /** When found: how long it took, in ms. */
    ms?: number
    /** When failed: why. */
    error?: string
  }]
  /** This node was announced in the DHT (see startPublishing). */
  published: [{
    /** How long the announcement took, in ms. */
    ms: number
    /** The names announced with the peer id. */
    names: string[]
  }]
  /** An announcement failed; it is retried after `retryMs`. */
  'publish:failed': [{
    /** Why, in one line. */
    error: string
    /** When the next attempt is made, in ms from now. */
    retryMs: number
  }]
  /** The first connection to a peer opened (with the path it takes). */
  'peer:connect': [PeerPathEvent]
  /** The last connection to a peer closed (with the path it last took). */
  'peer:disconnect': [PeerPathEvent]
  /** The best connection to a connected peer changed, e.g. relayed → direct WebRTC. */
  path: [PeerPathEvent]
  /** A relay reservation appeared among this node's addresses. */
  'relay:reserved': [RelayEvent]
  /** This node's relayed addresses through a relay disappeared (the relay went away or the reservation ended). */
  'relay:lost': [RelayEvent]
  /** The addresses other peers can dial this node on changed. */
  addresses: [AddressesEvent]
  /** {@link BeamNode.checkNat} finished: how this machine's NAT maps UDP, as the node's STUN servers saw it. */
  nat: [NatReport]
}

/**
 * A beam node: one libp2p peer, addressed by its public key, that can share
 * local services and connect to other peers' shares.
 */
export class BeamNode extends EventEmitter<BeamNodeEvents> {
  /** The underlying libp2p node, for anything beam does not wrap. Not covered by beam's stability promise. */
  readonly libp2p: Libp2p<BeamServices>
  /** The node's logger (component `node`). */
  readonly log: Logger
  private readonly addressBook: AddressBook | undefined
  private readonly bootstrap: Multiaddr[]
  private share_: Share | undefined
  private readonly connects = new Set<ConnectTunnel>()
  private stopped = false
  private started: Promise<void> | undefined
  private startedOk = false
  private readonly init: BeamInit
  private readonly monitor: ConnectivityMonitor
  private natReport: NatReport | undefined
  private bootstrapFailures = 0

  private readonly rootLog: Logger
  /** Peers a dial race runs for; the DHT leaves them alone meanwhile (see RacingPeers). */
  private readonly racing: RacingPeers
  private readonly lookupTimeout: number
  private publishing: AbortController | undefined
  private messageHandler: MessageHandler | undefined
  private callHandler: CallHandler | undefined
  private callsServed = false
  /** Signed records in the DHT: put this node's own, get anyone's. */
  readonly records: Records
  private warmUp: AbortController | undefined
  /** @internal counters of a relay node (set by createBeam) */
  relayAccounting: RelayAccounting | undefined
  /** A relay node's caps and grace timers (set at start). */
  private relayGuard: RelayGuard | undefined
  /** Whether this node runs WebRTC (and can upgrade relayed tunnels with it). */
  private readonly webrtc: boolean
  /** The networks this node uses (set by createBeam). */
  backends: Backend[] = [directBackend]
  /**
   * Anonymous-only node: the addresses its backends carry. Every other
   * address (from a connect string, the address book, a lookup) is dropped
   * before it is stored, resolved or dialled. Unset with `direct`.
   */
  private readonly carries: ((ma: Multiaddr) => boolean) | undefined

  /** @internal use {@link createBeam} */
  constructor (libp2p: Libp2p<BeamServices>, init: BeamInit, log: Logger, privateKey: PrivateKey, racing: RacingPeers) {
    super()
    this.libp2p = libp2p
    this.racing = racing
    this.rootLog = log
    this.log = log.child({ component: 'node' })
    this.carries = anonymousOnlyBackends(init.backends)
    this.addressBook = init.addressBook != null ? new AddressBook(init.addressBook, this.carries != null ? { keep: this.carries } : {}) : undefined
    this.bootstrap = init.bootstrap ?? []
    this.webrtc = init.transports?.webrtc !== false
    this.lookupTimeout = init.lookupTimeout ?? DEFAULT_LOOKUP_TIMEOUT
    this.records = new Records(libp2p, privateKey, libp2p.peerId.toString())
    this.init = init
    this.monitor = new ConnectivityMonitor(libp2p, () => this.getMultiaddrs(), {
      connect: e => { this.emit('peer:connect', e) },
      disconnect: e => { this.emit('peer:disconnect', e) },
      path: e => { this.emit('path', e) },
      reserved: e => { this.log.info({ relay: e.relay }, 'relay reservation held'); this.emit('relay:reserved', e) },
      lost: e => { this.log.info({ relay: e.relay }, 'relay reservation lost'); this.emit('relay:lost', e) },
      addresses: e => { this.emit('addresses', e) }
    })
  }

  /** Whether {@link start} has completed and {@link stop} has not been called. */
  get running (): boolean { return this.startedOk && !this.stopped }

  /**
   * Start the node (libp2p, the DHT mode, relay accounting, bootstrap dials).
   * createBeam calls it unless `init.start` is false. Idempotent: a second
   * call returns the first one's promise. A stopped node cannot be started
   * again (NodeStoppedError): create a new one with the same `privateKey`.
   */
  async start (): Promise<void> {
    if (this.stopped) throw new NodeStoppedError()
    this.started ??= this.startServices()
    await this.started
  }

  private async startServices (): Promise<void> {
    const init = this.init
    const libp2p = this.libp2p
    await libp2p.start()
    const relay = (libp2p.services as Record<string, unknown>).relay as RelayService | undefined
    if (init.relayServer != null && relay != null) {
      const guard = new RelayGuard(resolveRelayLimits(init.relayServer))
      if (await guard.install(libp2p, relay)) {
        this.relayGuard = guard
        this.relayAccounting = guard.accounting
      } else {
        this.rootLog.warn('relay caps and counters unavailable (circuit-relay handler not found)')
      }
    }
    this.monitor.refreshAddresses()
    this.connectBootstrap()
    const dhtMode = this.status().dht?.mode
    if (dhtMode === 'server') this.rootLog.info({ dhtMode }, 'DHT server: storing records and answering DHT queries for others')
    else if (dhtMode != null) this.rootLog.info({ dhtMode }, 'DHT client: looking up and publishing; answering no DHT query')
    // servers need a full routing table to answer; clients walk when they query
    if (this.dhtEnabled && isDhtServer(init)) this.startDhtWarmUp()
    this.startedOk = true
  }

  /**
   * Ask the node's STUN servers (the `stun:` URLs of `init.iceServers`) how
   * this machine's NAT maps UDP (see {@link probeNat}); emits `nat` and keeps
   * the report for {@link status}. beam does not guess a NAT status: until
   * this is called, `status().nat` is null. Throws InvalidOptionError when
   * the node has no STUN server.
   */
  async checkNat (options: { signal?: AbortSignal } = {}): Promise<NatReport> {
    this.assertRunning()
    const urls = (this.init.iceServers ?? []).flatMap(s => Array.isArray(s.urls) ? s.urls : [s.urls])
    const servers = stunTargets(urls)
    if (servers.length === 0) throw new InvalidOptionError('checkNat needs a stun: server in iceServers (beam contacts no third-party STUN server by default)')
    const report = await probeNat({ servers, ...(options.signal != null ? { signal: options.signal } : {}) })
    options.signal?.throwIfAborted()
    this.natReport = report
    this.emit('nat', report)
    return report
  }

  /** The node's peer id: its address, derived from its public key. */
  get peerId (): PeerId { return this.libp2p.peerId }

  /** The bootstrap/relay nodes this node was given. */
  get bootstrapAddrs (): Multiaddr[] { return [...this.bootstrap] }

  /** Whether this node runs WebRTC (hole punching upgrades). */
  get webrtcEnabled (): boolean { return this.webrtc }

  /** Addresses other peers can dial now (listening or announced). */
  getMultiaddrs (): Multiaddr[] {
    const seen = new Set<string>()
    return [...this.libp2p.getMultiaddrs(), ...unverifiedListenAddrs(this.libp2p)]
      .map(ma => ma.decapsulateCode(421))
      .filter(ma => { const k = ma.toString(); if (seen.has(k)) return false; seen.add(k); return true })
      // link-local addresses need a zone id to be dialled: useless to a peer
      .filter(ma => !/^\/ip6\/fe[89ab][0-9a-f]:|^\/ip4\/169\.254\./i.test(ma.toString()))
  }

  /** The connect string for this node, with or without an access secret. */
  connectString (secret?: Uint8Array): string {
    return encodeConnectString(secret != null
      ? { peerId: this.peerId, multiaddrs: this.getMultiaddrs(), secret }
      : { peerId: this.peerId, multiaddrs: this.getMultiaddrs() })
  }

  /**
   * True once every bootstrap node has failed or turned out (after identify)
   * to run no relay: then no reservation can come from them.
   */
  private noBootstrapRelays = false

  /** True once it is known that no bootstrap node runs a relay (see waitForReservation). */
  get bootstrapRunsNoRelay (): boolean { return this.noBootstrapRelays && this.bootstrapFailures < this.bootstrap.length }

  private async checkBootstrapRelays (): Promise<void> {
    const ids = this.bootstrap.map(ma => ma.getComponents().findLast(c => c.name === 'p2p')?.value).filter((x): x is string => x != null)
    if (ids.length < this.bootstrap.length) return
    let settled = 0
    for (const id of ids) {
      const conns = this.libp2p.getConnections().filter(c => c.remotePeer.toString() === id)
      if (conns.length === 0) continue
      const protocols = await identifiedProtocols(this.libp2p, conns[0]?.remotePeer ?? this.peerId)
      if (protocols == null) return
      if (protocols.includes(HOP_PROTOCOL)) return
      settled++
    }
    if (settled + this.bootstrapFailures >= this.bootstrap.length) {
      this.noBootstrapRelays = true
      this.emit('bootstrap:no-relay')
    }
  }

  /** Dial the bootstrap nodes in the background; reports failures as events. */
  connectBootstrap (): void {
    for (const ma of this.bootstrap) {
      this.libp2p.dial(ma, { signal: AbortSignal.timeout(15_000) }).then(() => {
        this.log.debug({ bootstrap: ma.toString() }, 'connected to bootstrap node')
      }, (error: Error) => {
        this.bootstrapFailures++
        this.log.warn({ bootstrap: ma.toString(), err: error.message }, 'bootstrap node unreachable')
        this.emit('bootstrap:failed', { multiaddr: ma.toString(), error })
      })
    }
  }

  /** Offer local TCP services to peers. One share per node. */
  async share (options: ShareOptions): Promise<Share> {
    this.assertStarted()
    if (this.share_ != null) throw new AlreadySharingError()
    const share = new Share({ ...options, libp2p: this.libp2p, logger: this.rootLog.child({ component: 'share' }), onClose: () => { this.share_ = undefined } })
    await share.start()
    this.share_ = share
    await this.addressBook?.put(this.peerId.toString(), this.getMultiaddrs()).catch(() => {})
    return share
  }

  /**
   * Open a local port that forwards to a peer's share. `target` is a connect
   * string, a peer id, or a parsed target.
   */
  async connect (target: string | Target, options: ConnectOptions = {}): Promise<ConnectTunnel> {
    this.assertStarted()
    options.signal?.throwIfAborted()
    const { target: t, addrs } = await this.prepare(target, options.signal)
    const id = t.peerId.toString()
    const refresh = this.dhtEnabled
      ? async (signal: AbortSignal): Promise<Multiaddr[]> => (await this.lookup(t.peerId, signal)).multiaddrs
      : undefined
    const tunnel = new ConnectTunnel({ upgrade: this.webrtc, ...options, libp2p: this.libp2p, peerId: t.peerId, secret: t.secret, logger: this.rootLog.child({ component: 'connect' }), onClose: () => { this.connects.delete(tunnel) }, refresh, racing: this.racing })
    this.connects.add(tunnel)
    // from here to the first connection only beam's dial race dials the
    // peer's direct addresses (see RacingPeers)
    this.racing.add(t.peerId)
    try {
      await tunnel.start(options)
    } catch (err) {
      await tunnel.close()
      throw err
    } finally {
      this.racing.delete(t.peerId)
    }
    if (addrs.length > 0) await this.addressBook?.put(id, addrs).catch(() => {})
    return tunnel
  }

  /**
   * Measure throughput and round trips to a peer's share over each path it
   * offers (or `options.backends`), one forced path at a time. The share
   * answers only if it would open a tunnel for this node (TunnelRefusedError).
   */
  async benchmark (target: string | Target, options: BenchmarkOptions = {}): Promise<BenchResult[]> {
    this.assertStarted()
    const { target: t } = await this.prepare(target, options.signal)
    const addrs = await this.knownAddresses(t.peerId)
    return await runBenchmark(this.libp2p, t.peerId, addrs, t.secret, this.rootLog.child({ component: 'benchmark' }), options)
  }

  /**
   * Resolve a target and make sure its addresses are known: from the target
   * itself, the address book, an open connection, or a DHT lookup. Throws
   * InvalidTargetError or PeerNotFoundError.
   */
  private async prepare (target: string | Target, signal?: AbortSignal): Promise<{ target: Target, addrs: Multiaddr[] }> {
    const t = this.carriedOnly(typeof target === 'string' ? await this.resolve(target, signal) : target)
    const id = t.peerId.toString()
    if (t.peerId.equals(this.peerId)) throw new InvalidTargetError('cannot connect to this node\'s own peer id (use another identity for the connecting side)')
    let addrs = t.multiaddrs
    if (addrs.length === 0 && this.libp2p.getConnections(t.peerId).length === 0) {
      addrs = (await this.addressBook?.get(id)) ?? []
      if (addrs.length > 0) this.log.info({ peer: id, addresses: addrs.length }, 'using remembered addresses')
    }
    if (addrs.length === 0 && this.libp2p.getConnections(t.peerId).length === 0 && (await this.knownAddresses(t.peerId)).length === 0) {
      if (!this.dhtEnabled) throw new PeerNotFoundError(id)
      if (this.bootstrap.length === 0) throw new PeerNotFoundError(id, `no address known for peer ${id}, and no bootstrap node to look it up with: use the connect string that 'beam share' printed`, { noBootstrap: true })
      // a DHT query may reach the peer itself (a share run as a DHT server):
      // that dial must not hold the peer's direct addresses (see RacingPeers)
      this.racing.add(t.peerId)
      try {
        addrs = (await this.lookup(t.peerId, signal)).multiaddrs.filter(ma => this.carries?.(ma) ?? true)
      } finally {
        this.racing.delete(t.peerId)
      }
    }
    if (addrs.length > 0) {
      await this.libp2p.peerStore.merge(t.peerId, { multiaddrs: addrs })
    }
    return { target: t, addrs }
  }

  /**
   * The target without the addresses an anonymous-only node's backends do
   * not carry (see {@link carries}); logged, so a user sees why an address
   * of the connect string was not tried. Throws InvalidTargetError when the
   * target named addresses and none is carried.
   */
  private carriedOnly (t: Target): Target {
    const carries = this.carries
    if (carries == null || t.multiaddrs.length === 0) return t
    const kept = t.multiaddrs.filter(ma => carries(ma))
    const dropped = t.multiaddrs.length - kept.length
    if (dropped === 0) return t
    const names = this.backends.map(b => b.name).join(' or ')
    this.log.info({ peer: t.peerId.toString(), dropped, kept: kept.length }, `dropped ${dropped} address(es) that ${names} does not carry (not resolved, not dialled)`)
    if (kept.length === 0) throw new InvalidTargetError(`the target has no address that ${names} carries`)
    return { ...t, multiaddrs: kept }
  }

  // ---------------------------------------------------------------- app API

  /**
   * Serve an app protocol: `handler` gets each inbound stream as a Node.js
   * Duplex (backpressure, half-close) and the authenticated sender. Runs on
   * relayed connections too.
   */
  async handle (protocol: string, handler: (stream: Duplex, from: AppSender) => void | Promise<void>, options: HandleOptions = {}): Promise<void> {
    this.assertRunning()
    await this.libp2p.handle(protocol, async (stream, connection) => {
      try {
        await handler(streamToDuplex(stream), { peerId: connection.remotePeer, connection })
      } catch (err) {
        this.log.warn({ protocol, peer: connection.remotePeer.toString(), err: (err as Error).message }, 'app stream handler failed')
        if (stream.status === 'open') stream.abort(err as Error)
      }
    }, { runOnLimitedConnection: true, maxInboundStreams: options.maxInboundStreams ?? 256, maxOutboundStreams: options.maxOutboundStreams ?? 256 })
  }

  /** Stop serving an app protocol. */
  async unhandle (protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol)
  }

  /** Open a stream of an app protocol to a peer (peer id, connect string or name). */
  async open (target: string | Target, protocol: string, options: { signal?: AbortSignal } = {}): Promise<Duplex> {
    return streamToDuplex(await this.openRaw(target, protocol, options.signal))
  }

  private async openRaw (target: string | Target, protocol: string, signal?: AbortSignal): Promise<Stream> {
    this.assertStarted()
    const { target: t } = await this.prepare(target, signal)
    const s = AbortSignal.any([AbortSignal.timeout(DEFAULT_DIAL_TIMEOUT), ...(signal != null ? [signal] : [])])
    try {
      // not connected yet: beam's own dial race over the known addresses
      // (libp2p's peer dial tries them one at a time, 12 s each); the stream
      // then goes over the connection it opened
      if (this.libp2p.getConnections(t.peerId).length === 0) {
        const known = await this.knownAddresses(t.peerId)
        if (known.length > 0) await raceDial(this.libp2p, t.peerId, { addrs: known, log: this.log, signal: s, racing: this.racing })
      }
      return await this.libp2p.dialProtocol(t.peerId, protocol, { signal: s, runOnLimitedConnection: true })
    } catch (err) {
      signal?.throwIfAborted()
      throw new PeerUnreachableError(t.peerId.toString(), (err as Error).message, err)
    }
  }

  /** Receive one-way app messages (one handler; a new one replaces it). */
  async onMessage (handler: MessageHandler): Promise<void> {
    const first = this.messageHandler == null
    this.messageHandler = handler
    if (!first) return
    await this.libp2p.handle(MESSAGE_PROTOCOL, async (stream, connection) => {
      try {
        const data = await readMessage(stream, AbortSignal.timeout(30_000))
        await this.messageHandler?.(data, { peerId: connection.remotePeer, connection })
      } catch (err) {
        this.log.debug({ peer: connection.remotePeer.toString(), err: (err as Error).message }, 'bad app message')
        if (stream.status === 'open') stream.abort(err as Error)
      }
    }, { runOnLimitedConnection: true, maxInboundStreams: 64 })
  }

  /** Answer app calls (one handler; a new one replaces it). */
  async onCall (handler: CallHandler): Promise<void> {
    this.callHandler = handler
    await this.ensureCallProtocol()
  }

  private async ensureCallProtocol (): Promise<void> {
    if (this.callsServed) return
    this.callsServed = true
    await this.libp2p.handle(CALL_PROTOCOL, async (stream, connection) => {
      await answerCall(stream, this.callHandler, { peerId: connection.remotePeer, connection }, AbortSignal.timeout(60_000)).catch((err: Error) => {
        this.log.debug({ peer: connection.remotePeer.toString(), err: err.message }, 'app call failed')
        if (stream.status === 'open') stream.abort(err)
      })
    }, { runOnLimitedConnection: true, maxInboundStreams: 64 })
  }

  /** Send a one-way app message (at most 32 KiB). Resolves when the peer has it. */
  async send (target: string | Target, data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkSize(data)
    const stream = await this.openRaw(target, MESSAGE_PROTOCOL, options.signal)
    await writeMessage(stream, data, options.signal ?? AbortSignal.timeout(30_000)).catch((err: Error) => {
      if (stream.status === 'open') stream.abort(err)
      throw err
    })
  }

  /**
   * Call a peer: send `request`, get its handler's reply (each at most
   * 32 KiB). Rejects with RemoteCallError if the handler failed or the peer
   * takes no calls, with a TimeoutError after `timeout` ms (default 30 s).
   */
  async call (target: string | Target, request: Uint8Array, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<Uint8Array> {
    checkSize(request)
    const signal = AbortSignal.any([AbortSignal.timeout(options.timeout ?? 30_000), ...(options.signal != null ? [options.signal] : [])])
    this.assertStarted()
    const t = typeof target === 'string' ? await this.resolve(target, signal) : target
    const stream = await this.openRaw(t, CALL_PROTOCOL, signal)
    try {
      return await writeCall(stream, request, t.peerId.toString(), signal)
    } catch (err) {
      if (stream.status === 'open') stream.abort(err as Error)
      throw err
    }
  }

  /** What this node is doing now: addresses, relays, connections, DHT, share and tunnels. */
  status (): NodeStatus {
    const conns = this.libp2p.getConnections()
    const dht = this.libp2p.services.dht as { getMode?: () => string, routingTable?: { size?: number } } | undefined
    return {
      peerId: this.peerId.toString(),
      multiaddrs: this.getMultiaddrs().map(m => m.toString()),
      relays: [...new Set(this.relayedMultiaddrs().map(m => relayOfCircuit(m) ?? ''))],
      connections: conns.map(c => { const p = pathOf(c); return { peerId: c.remotePeer.toString(), remote: p.remote, direct: p.direct, transport: p.transport, streams: c.streams.length } }),
      dht: dht == null ? null : { mode: dht.getMode?.() ?? 'unknown', routingTable: dht.routingTable?.size ?? 0 },
      share: this.share_ != null ? { ports: this.share_.services.map(s => s.port), openTunnels: this.share_.openTunnels } : null,
      tunnels: this.connects.size,
      nat: this.natReport ?? null
    }
  }

  /** Whether this node runs the DHT (and can find peers by id). */
  get dhtEnabled (): boolean { return this.libp2p.services.dht != null }

  /**
   * Turn what a user typed into a target: a connect string, a peer id, or
   * `name.peer-id-prefix` (looked up in the DHT).
   */
  async resolve (text: string, signal?: AbortSignal): Promise<Target> {
    const name = looksLikeConnectString(text.trim()) ? undefined : parseNameTarget(text.trim())
    if (name == null) return parseTarget(text)
    try {
      checkNamePrefix(name)
    } catch (err) {
      if (err instanceof NamePrefixError) throw new InvalidTargetError(err.message)
      throw err
    }
    if (!this.dhtEnabled) throw new PeerNotFoundError(text, `cannot resolve the name '${text}': the DHT is off`)
    this.log.info({ name: name.name, prefix: name.prefix }, `looking up the name ${name.name}.${name.prefix} in the DHT`)
    try {
      const lookupSignal = this.lookupSignal(signal)
      await this.waitForDhtPeer(lookupSignal)
      const found = await lookupName(this.libp2p, name, { signal: lookupSignal, log: this.log })
      this.log.info({ peer: found.peerId.toString(), addresses: found.multiaddrs.length, ms: found.ms }, `${name.name} is ${found.peerId.toString()}`)
      return { peerId: found.peerId, multiaddrs: found.multiaddrs }
    } catch (err) {
      signal?.throwIfAborted()
      throw new PeerNotFoundError(text, `cannot resolve '${text}': ${(err as Error).message}`)
    }
  }

  /** Find a peer's addresses in the DHT. Rejects with PeerNotFoundError. */
  async lookup (peerId: PeerId, signal?: AbortSignal): Promise<{
    /** The addresses found. */
    multiaddrs: Multiaddr[]
    /** How long the lookup took, in ms. */
    ms: number
  }> {
    const id = peerId.toString()
    this.log.info({ peer: id }, `looking up ${id} in the DHT`)
    this.emit('lookup', { peerId: id, state: 'started' })
    try {
      const lookupSignal = this.lookupSignal(signal)
      await this.waitForDhtPeer(lookupSignal)
      const found = await lookupPeer(this.libp2p, peerId, { signal: lookupSignal, log: this.log })
      this.log.info({ peer: id, addresses: found.multiaddrs.length, ms: found.ms }, `found ${found.multiaddrs.length} address(es) in ${found.ms} ms`)
      this.emit('lookup', { peerId: id, state: 'found', addresses: found.multiaddrs.length, ms: found.ms })
      await this.addressBook?.put(id, found.multiaddrs).catch(() => {})
      return found
    } catch (err) {
      signal?.throwIfAborted()
      const reason = (err as Error).message
      this.emit('lookup', { peerId: id, state: 'failed', error: reason })
      this.log.debug({ peer: id, err: reason }, 'DHT lookup failed')
      throw new PeerNotFoundError(id, `peer ${id} was not found in the DHT (${reason}; is its share running, and does it reach a bootstrap node?)`)
    }
  }

  /**
   * Wait until the DHT's routing table holds a peer, so that a query does not
   * fail at once for want of one (a fresh node is still dialling its
   * bootstrap nodes). Reads kad-dht's `routingTable.size` (the KadDHT class
   * has it; the service interface does not). Bounded by `signal`.
   */
  async waitForDhtPeer (signal: AbortSignal): Promise<void> {
    const dht = this.libp2p.services.dht as { routingTable?: { size?: number } } | undefined
    for (;;) {
      if ((dht?.routingTable?.size ?? 1) > 0) return
      signal.throwIfAborted()
      await new Promise(resolve => setTimeout(resolve, 25))
    }
  }

  /**
   * Fill the DHT routing table once the first DHT peer is known: a walk
   * towards this node's own id (what kad-dht's self-query does; beam runs
   * that one at start, before any peer is connected, so that queries need
   * not wait a second for it). Without it a DHT server would know only the
   * peers that happened to connect to it. Runs in the background; bounded.
   */
  /** @internal called by createBeam */
  startDhtWarmUp (): void {
    if (this.warmUp != null) return
    const ctl = new AbortController()
    this.warmUp = ctl
    const signal = AbortSignal.any([ctl.signal, AbortSignal.timeout(60_000)])
    void (async () => {
      await this.waitForDhtPeer(signal)
      let n = 0
      for await (const _ of this.libp2p.peerRouting.getClosestPeers(this.peerId.toMultihash().bytes, { signal })) n++
      this.log.debug({ peers: n }, 'DHT routing table filled')
    })().catch((err: Error) => { if (!ctl.signal.aborted) this.log.debug({ err: err.message }, 'DHT warm-up walk ended early') })
  }

  private lookupSignal (signal?: AbortSignal): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(this.lookupTimeout), ...(signal != null ? [signal] : [])])
  }

  /**
   * Keep this node findable in the DHT under its peer id (and `names`):
   * announce now, retry with backoff until it works, then again every 30 min
   * and whenever this node's addresses change. Stops with the node.
   */
  startPublishing (names: string[] = []): void {
    if (!this.dhtEnabled || this.publishing != null) return
    if (this.warmUp == null) this.startDhtWarmUp()
    const ctl = new AbortController()
    this.publishing = ctl
    let dirty = true
    let wake: (() => void) | undefined
    const onChange = (): void => { dirty = true; wake?.() }
    this.libp2p.addEventListener('self:peer:update', onChange)
    ctl.signal.addEventListener('abort', () => { this.libp2p.removeEventListener('self:peer:update', onChange); wake?.() })
    const sleep = async (ms: number): Promise<void> => {
      await new Promise<void>(resolve => {
        const t = setTimeout(() => { wake = undefined; resolve() }, ms)
        t.unref()
        wake = () => { clearTimeout(t); wake = undefined; resolve() }
      })
    }
    void (async () => {
      let failures = 0
      let lastOk = 0
      while (!ctl.signal.aborted) {
        if (dirty || Date.now() - lastOk >= REPUBLISH_INTERVAL) {
          // let address changes settle (reservations come in one by one)
          await sleep(failures === 0 && lastOk !== 0 ? 2000 : 0)
          dirty = false
          const start = Date.now()
          try {
            const pubSignal = AbortSignal.any([ctl.signal, AbortSignal.timeout(60_000)])
            await this.waitForDhtPeer(pubSignal)
            await publish(this.libp2p, names, { signal: pubSignal })
            failures = 0
            lastOk = Date.now()
            this.log.info({ ms: lastOk - start, names }, 'published in the DHT: this peer can be found by its id')
            this.emit('published', { ms: lastOk - start, names })
          } catch (err) {
            if (ctl.signal.aborted) break
            failures++
            dirty = true
            const retryMs = Math.min(1000 * 2 ** Math.min(failures, 6), 60_000)
            this.log.warn({ err: (err as Error).message, retryS: retryMs / 1000 }, 'could not publish in the DHT yet (no DHT server reached?); retrying')
            this.emit('publish:failed', { error: (err as Error).message, retryMs })
            await sleep(retryMs)
            continue
          }
        }
        await sleep(dirty ? 0 : REPUBLISH_INTERVAL)
      }
    })()
  }

  private async knownAddresses (peerId: PeerId): Promise<Multiaddr[]> {
    try {
      const peer = await this.libp2p.peerStore.get(peerId)
      return peer.addresses.map(a => a.multiaddr)
    } catch {
      return []
    }
  }

  /** Relayed addresses this node holds (reservations), if any. */
  relayedMultiaddrs (): Multiaddr[] {
    return this.getMultiaddrs().filter(ma => ma.getComponents().some(c => c.name === 'p2p-circuit'))
  }

  /**
   * Wait until at least one relay reservation is in place, or `timeout` ms
   * have passed. Resolves the relayed addresses (empty on timeout).
   */
  async waitForReservation (options: { timeout?: number, signal?: AbortSignal } = {}): Promise<Multiaddr[]> {
    const deadline = AbortSignal.any([AbortSignal.timeout(options.timeout ?? 10_000), ...(options.signal != null ? [options.signal] : [])])
    // no point waiting once every bootstrap node has proven unreachable
    const hopeless = (): boolean => this.bootstrap.length > 0 && (this.bootstrapFailures >= this.bootstrap.length || this.noBootstrapRelays)
    while (this.relayedMultiaddrs().length === 0 && !deadline.aborted && !hopeless()) {
      await this.checkBootstrapRelays()
      if (hopeless()) break
      await new Promise<void>(resolve => {
        const done = (): void => {
          this.libp2p.removeEventListener('self:peer:update', done)
          this.libp2p.removeEventListener('peer:identify', done)
          this.off('bootstrap:failed', done)
          deadline.removeEventListener('abort', done)
          resolve()
        }
        this.libp2p.addEventListener('self:peer:update', done)
        this.libp2p.addEventListener('peer:identify', done)
        this.on('bootstrap:failed', done)
        deadline.addEventListener('abort', done)
      })
    }
    return this.relayedMultiaddrs()
  }

  /**
   * What a relay node is carrying now and has carried since it started
   * (zeros on a node that is not a relay).
   */
  relayStats (): RelayStats {
    const service = (this.libp2p.services as Record<string, unknown>).relay as { reservations?: { size: number } } | undefined
    let circuits = 0
    const conns = this.libp2p.getConnections()
    for (const c of conns) for (const st of c.streams) if (st.protocol === STOP_PROTOCOL) circuits++
    const totals = this.relayAccounting?.counters ?? { bytesRelayed: 0, reservationsAccepted: 0, circuitsAccepted: 0, refusals: {}, capRefusals: {}, reservationsDropped: 0, circuitsCut: {} }
    return { reservations: service?.reservations?.size ?? 0, circuits, connections: conns.length, ...totals, refusals: { ...totals.refusals }, capRefusals: { ...totals.capRefusals }, circuitsCut: { ...totals.circuitsCut } }
  }

  private assertRunning (): void {
    if (this.stopped) throw new NodeStoppedError()
  }

  /** For calls that use the network: the node must be started (and not stopped). */
  private assertStarted (): void {
    this.assertRunning()
    if (this.started == null) throw new NodeNotStartedError()
  }

  /** Close the share and every tunnel, then stop libp2p. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    await this.started?.catch(() => {})
    this.publishing?.abort()
    this.warmUp?.abort()
    this.relayGuard?.stop()
    await this.share_?.close()
    await Promise.all([...this.connects].map(async c => { await c.close() }))
    await this.libp2p.stop()
    this.monitor.detach()
    for (const b of this.backends) await b.stop?.().catch((err: Error) => { this.log.warn({ backend: b.name, err: err.message }, 'backend did not stop cleanly') })
  }
}

/** A relay node's state now (gauges) and since start (counters). */
export interface RelayStats extends RelayCounters {
  /** Reservations held now. */
  reservations: number
  /** Relayed connections open now. */
  circuits: number
  /** libp2p connections open now. */
  connections: number
}

/** Options of {@link BeamNode.handle}. */
export interface HandleOptions {
  /** Inbound streams of this protocol per connection at once. @default 256 */
  maxInboundStreams?: number
  /** Outbound streams of this protocol per connection at once. @default 256 */
  maxOutboundStreams?: number
}

/** {@link BeamNode.status}: a snapshot (what `beam status` shows). */
export interface NodeStatus {
  /** This node's peer id. */
  peerId: string
  /** Addresses other peers can dial now (as {@link BeamNode.getMultiaddrs}). */
  multiaddrs: string[]
  /** Relays this node holds a reservation on. */
  relays: string[]
  /** Open connections. */
  connections: Array<{
    /** The remote peer. */
    peerId: string
    /** Its address on this connection. */
    remote: string
    /** False when the bytes pass through a relay. */
    direct: boolean
    /** The transport, as in {@link PathTransport}. */
    transport: string
    /** Streams open on it now. */
    streams: number
  }>
  /** The DHT, or null when it is off. */
  dht: {
    /** 'client' or 'server'. */
    mode: string
    /** Peers in the routing table. */
    routingTable: number
  } | null
  /** The share, or null when there is none. */
  share: {
    /** The shared ports. */
    ports: number[]
    /** Tunnels open now. */
    openTunnels: number
  } | null
  /** Open `connect` tunnels. */
  tunnels: number
  /** The last {@link BeamNode.checkNat} report, or null when the app has not asked (beam does not guess). */
  nat: NatReport | null
}

/** Create a beam node and start it (unless `init.start` is false: then call `node.start()`). */
export async function createBeam (init: BeamInit = {}): Promise<BeamNode> {
  const log = init.logger ?? silentLogger()
  const backends = init.backends ?? [directBackend]
  if (backends.length === 0) throw new InvalidOptionError('backends: give at least one (e.g. direct or tor)')
  const names = new Set<string>()
  for (const b of backends) {
    if (names.has(b.name)) throw new InvalidOptionError(`backend '${b.name}' is listed twice`)
    names.add(b.name)
    if (b.name !== 'direct' && b.transport == null) throw new InvalidOptionError(`backend '${b.name}' is not implemented (beam backends)`)
  }
  if (!names.has('direct')) init = anonymousOnly(init, backends)
  for (const b of backends) await b.start?.({ log })
  try {
    const node = await createNode(init, log, backends)
    node.backends = backends
    // a failed start: stop libp2p here; the backends are stopped below, once
    if (init.start !== false) await node.start().catch(async (err: unknown) => { await Promise.resolve(node.libp2p.stop()).catch(() => {}); throw err })
    return node
  } catch (err) {
    for (const b of backends) await b.stop?.().catch(() => {})
    throw backendListenError(err, backends) ?? err
  }
}

/**
 * libp2p reports a failed listener as one UnsupportedListenAddressesError
 * whose message lists each address with its error (and a stack trace). When
 * a backend's own listen address failed (no Tor control port, auth refused),
 * say that in one line as a BackendUnavailableError.
 */
function backendListenError (err: unknown, backends: Backend[]): Error | undefined {
  if (!(err instanceof Error) || err.name !== 'UnsupportedListenAddressesError') return undefined
  const own = new Set(backends.flatMap(b => b.listenAddrs?.() ?? []))
  for (const m of err.message.matchAll(/^\s*(\/\S+): (?:\w+: )?([^\n]+)$/gm)) {
    if (m[1] != null && own.has(m[1])) return new BackendUnavailableError(`cannot listen on ${m[1]}: ${m[2] ?? ''}`)
  }
  return undefined
}

/** The address filter of an anonymous-only backend list (no `direct`); undefined otherwise. */
function anonymousOnlyBackends (backends: Backend[] | undefined): ((ma: Multiaddr) => boolean) | undefined {
  if (backends == null || backends.some(b => b.name === 'direct')) return undefined
  return carriedBy(backends)
}

/**
 * Whether a node runs the DHT as a server: relays do, and nodes whose init
 * says `dht: { server: true }`; every other node (shares, connectors, apps)
 * is a client, whatever its addresses.
 */
function isDhtServer (init: BeamInit): boolean {
  return init.dht !== false && (init.relayServer != null || init.dht?.server === true)
}

/**
 * Budget of one address dial on a node with a high-latency backend (Tor,
 * I2P), in ms: a fresh onion or I2P destination takes seconds to publish, a
 * first I2P dial builds its own tunnels, and the dialler retries meanwhile; the connect's
 * own timeout (dialTimeout) is what bounds it in practice.
 */
const ANONYMOUS_ADDRESS_DIAL_TIMEOUT = 120_000

/**
 * The init of an anonymous-only node: beam's own transports, bootstrap
 * nodes, the DHT, relays and ICE servers all off; only backend listen
 * addresses allowed. Throws InvalidOptionError on a clearnet listen address.
 */
function anonymousOnly (init: BeamInit, backends: Backend[]): BeamInit {
  const allowed = backends.flatMap(b => b.listenAddrs?.() ?? [])
  for (const l of [...(init.listen ?? []), ...(init.announce ?? [])]) {
    if (!allowed.includes(l)) throw new InvalidOptionError(`${backends.map(b => b.name).join('+')}-only mode opens no clearnet listener: cannot listen on or announce '${l}'`)
  }
  if ((init.reservations ?? 0) > 0) throw new InvalidOptionError(`${backends.map(b => b.name).join('+')}-only mode uses no relay: reservations must be 0`)
  if (init.relayServer != null) throw new InvalidOptionError('a relay server needs the direct backend')
  return {
    ...init,
    bootstrap: [],
    iceServers: [],
    dht: false,
    announce: [],
    transports: { tcp: false, quic: false, websockets: false, webrtc: false, relay: false }
  }
}

async function createNode (init: BeamInit, log: Logger, backends: Backend[]): Promise<BeamNode> {
  const directOn = backends.some(b => b.name === 'direct')
  const extra = backends.filter(b => b.name !== 'direct')
  const backendListen = init.listenOnBackends === true ? extra.flatMap(b => b.listenAddrs?.() ?? []) : []
  const privateKey = init.privateKey ?? await ephemeralIdentity()
  const reservations = init.reservations ?? 0
  if (!Number.isInteger(reservations) || reservations < 0 || reservations > 8) throw new InvalidOptionError('reservations must be 0-8')
  const listen = [...new Set([...(init.listen ?? []), ...backendListen])]
  for (let i = 0; i < reservations; i++) listen.push('/p2p-circuit')
  if (reservations > 0 && init.transports?.webrtc !== false) listen.push('/webrtc')
  const racing = new RacingPeers()
  const libp2p = await createLibp2p({ ...await libp2pOptions({
    privateKey,
    racingPeer: peer => racing.has(peer),
    listen,
    ...(init.relayServer != null ? { relayServer: resolveRelayLimits(init.relayServer) } : {}),
    ...(init.relayAllow != null ? { relayAllow: init.relayAllow } : {}),
    ...(init.dht !== false ? { dhtProtocol: init.dht?.protocol ?? DEFAULT_DHT_PROTOCOL, dhtServer: isDhtServer(init) } : {}),
    announce: init.announce ?? [],
    iceServers: init.iceServers ?? [],
    ...(init.webrtcBindAddress != null ? { webrtcBindAddress: init.webrtcBindAddress } : {}),
    transports: {
      tcp: init.transports?.tcp ?? true,
      quic: init.transports?.quic ?? true,
      websockets: init.transports?.websockets ?? true,
      webrtc: init.transports?.webrtc ?? true,
      relay: init.transports?.relay ?? true
    },
    backendTransports: extra.map(b => b.transport?.({ log })).filter((t): t is NonNullable<typeof t> => t != null),
    ...(directOn ? {} : { carries: carriedBy(extra) }),
    // a first dial over a high-latency network includes making its session (I2P: ~20 s of tunnel building)
    ...(!directOn || extra.some(b => b.latency === 'high') ? { addressDialTimeout: ANONYMOUS_ADDRESS_DIAL_TIMEOUT } : {}),
    ...(extra.some(b => b.latency === 'high') ? { highLatency: true } : {}),
    logger: libp2pComponentLogger(log)
  }), start: false })
  return new BeamNode(libp2p, init, log, privateKey, racing)
}

/**
 * The protocols a peer runs, once identify has answered; undefined before.
 * The peer store's protocol list alone proves nothing: libp2p adds to it each
 * protocol that one of this node's own streams negotiated (ping, kad), so it
 * is non-empty before identify has run. Identify stores the agent version
 * after the protocols.
 */
export async function identifiedProtocols (libp2p: Libp2p, peer: PeerId): Promise<string[] | undefined> {
  const record = await libp2p.peerStore.get(peer).catch(() => undefined)
  return record?.metadata.has('AgentVersion') === true ? record.protocols : undefined
}

/** The part of libp2p's internal components read by {@link unverifiedListenAddrs}. */
interface WithAddressManager {
  components?: { addressManager?: { getAddressesWithMetadata?: () => Array<{ multiaddr: Multiaddr, verified: boolean, type: string }> } }
}

/**
 * This node's own listen addresses on public interfaces that AutoNAT has not
 * confirmed yet. libp2p withholds them from getMultiaddrs() until a peer has
 * dialled back, which never happens without an AutoNAT server (a LAN, a
 * public host before its first relay). A connect string carries them anyway:
 * a connector dials all direct addresses at once, so a dead one costs nothing.
 * (Read through libp2p's components: the public Libp2p type has no accessor.)
 */
function unverifiedListenAddrs (libp2p: Libp2p<BeamServices>): Multiaddr[] {
  const am = (libp2p as unknown as WithAddressManager).components?.addressManager
  try {
    return (am?.getAddressesWithMetadata?.() ?? [])
      .filter(a => a.type === 'transport' && !a.verified)
      .map(a => a.multiaddr)
  } catch {
    return []
  }
}

import { EventEmitter } from 'node:events'
import { AddressBook } from '../discovery/address-book.ts'
import { encodeConnectString } from '../discovery/connect-string.ts'
import { DhtPresence } from '../discovery/presence.ts'
import type { RelayAdvertiser } from '../discovery/relay-advertiser.ts'
import type { RelayFinder } from '../discovery/relay-finder.ts'
import { PeerResolver } from '../discovery/resolver.ts'
import { Records } from '../discovery/records.ts'
import { InvalidOptionError, NodeNotStartedError, NodeStoppedError } from '../errors.ts'
import { pathOf } from '../connect/path.ts'
import { directBackend } from '../../backends/index.ts'
import { probeNat, stunServersOf } from '../diagnostics/nat-probe.ts'
import { PunchContext, PunchedPorts } from '../punch/index.ts'
import { AppApi } from './app.ts'
import { dialableAddrs, listeningAddrs, ownAddresses } from './addresses.ts'
import { ReachabilityTracker } from './reachability-tracker.ts'
import type { Reachability } from './reachability.ts'
import { ConnectivityMonitor, relayOfCircuit } from './connectivity.ts'
import { NodeRelayServer } from './relay-server.ts'
import { Reservations } from './reservations.ts'
import { relayParts } from './relay-parts.ts'
import { Tunnels } from './tunnels.ts'
import type { Duplex } from 'node:stream'
import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { RelayAccounting } from '../../relay/index.ts'
import type { Backend } from '../../backends/index.ts'
import type { BeamServices } from '../libp2p/libp2p-options.ts'
import type { Logger } from '../logger.ts'
import type { Share, ShareOptions } from '../share/share.ts'
import type { ConnectOptions, ConnectTunnel } from '../connect/connect.ts'
import type { Target } from '../discovery/target.ts'
import type { BenchmarkOptions, BenchResult } from '../diagnostics/benchmark.ts'
import type { NatReport } from '../diagnostics/nat-probe.ts'
import type { AppSender, CallHandler, HandleOptions, MessageHandler } from './app.ts'
import type { RelayStats } from './relay-server.ts'
import { rememberAndWarn } from './listen-ports.ts'
import type { ListenMove, ListenPortsMemory } from './listen-ports.ts'
import { NetworkWatch } from './network-watch.ts'
import type { CheckedRelay } from '../discovery/relay-choice.ts'
import type { BeamInit, BeamNodeComponents, BeamNodeEvents, NodeStatus } from './init.ts'

/**
 * A beam node: one libp2p peer, addressed by its public key, that can share
 * local services and connect to other peers' shares.
 *
 * Inside, a facade over the parts that do the work: it owns the libp2p node
 * and its lifecycle, and delegates names and lookups to PeerResolver, DHT
 * publishing to DhtPresence, reservations to Reservations, tunnels to
 * Tunnels, the relay server to NodeRelayServer, the app API to AppApi.
 */
export class BeamNode extends EventEmitter<BeamNodeEvents> {
  /** The underlying libp2p node, for anything beam does not wrap. Not covered by beam's stability promise. */
  readonly libp2p: Libp2p<BeamServices>
  /** The node's logger (component `node`). */
  readonly log: Logger
  /** Signed records in the DHT: put this node's own, get anyone's. */
  readonly records: Records
  /** The networks this node uses (set by createBeam). */
  backends: Backend[] = [directBackend]
  private readonly init: BeamInit
  private readonly privateKey: BeamNodeComponents['privateKey']
  private readonly rootLog: Logger
  /** Whether this node runs WebRTC (and can upgrade relayed tunnels with it). */
  private readonly webrtc: boolean
  private readonly dhtServer: boolean
  private readonly monitor: ConnectivityMonitor
  private readonly presence: DhtPresence
  private readonly resolver: PeerResolver
  private readonly reservations: Reservations
  /** Finds and holds relays (a node with `reservations`). */
  private readonly relayFinder: RelayFinder | undefined
  /** Announces this relay in the DHT (a relay node that advertises). */
  private readonly relayAdvertiser: RelayAdvertiser | undefined
  private readonly relayServer: NodeRelayServer
  private readonly app: AppApi
  private readonly tunnels: Tunnels
  private readonly reach: ReachabilityTracker
  private readonly listenPorts: ListenPortsMemory | undefined
  private readonly networkWatch: NetworkWatch
  private moved: ListenMove[] = []
  private natReport: NatReport | undefined
  private stopped = false
  private started: Promise<void> | undefined
  private startedOk = false

  /** @internal use {@link createBeam} */
  constructor (components: BeamNodeComponents) {
    super()
    const { libp2p, init, log, racing, carries } = components
    this.libp2p = libp2p
    this.init = init
    this.rootLog = log
    this.log = log.child({ component: 'node' })
    if (components.backends != null) this.backends = components.backends
    this.listenPorts = components.listenPorts
    this.networkWatch = new NetworkWatch({ libp2p, log: this.log })
    this.dhtServer = components.dhtServer ?? false
    this.webrtc = init.transports?.webrtc !== false
    this.privateKey = components.privateKey
    this.records = new Records(libp2p, components.privateKey, libp2p.peerId.toString())
    const addresses = (): Multiaddr[] => this.getMultiaddrs()
    const addressBook = init.addressBook != null ? new AddressBook(init.addressBook, carries != null ? { keep: carries } : {}) : undefined
    const bootstrap = init.bootstrap ?? []
    this.reach = new ReachabilityTracker({
      libp2p,
      addresses: () => ownAddresses(libp2p),
      // a reservation lives only while its relay is connected: a circuit
      // address libp2p has not withdrawn yet (a relay lost right after it
      // granted the reservation) counts for nothing
      relays: () => [...this.monitor.reservedRelays().keys()].filter(id => libp2p.getConnections().some(c => c.remotePeer.toString() === id && c.limits == null && c.status === 'open')),
      log: this.log,
      known: relay => { const kind = this.relayFinder?.kindOf(relay); return kind == null ? undefined : kind === 'limited' },
      onChange: reachability => { this.emit('reachability', { reachability }) }
    })
    this.monitor = new ConnectivityMonitor(libp2p, addresses, {
      connect: e => { this.emit('peer:connect', e) },
      disconnect: e => { this.emit('peer:disconnect', e) },
      path: e => { this.emit('path', e) },
      reserved: e => { this.log.info({ relay: e.relay }, 'relay reservation held'); this.reach.reserved(e.relay); this.emit('relay:reserved', e) },
      lost: e => { this.log.info({ relay: e.relay }, 'relay reservation lost'); this.reach.lost(e.relay); this.emit('relay:lost', e) },
      addresses: e => { this.emit('addresses', { ...e, reachability: this.reach.current }); this.reach.refresh() }
    })
    this.presence = new DhtPresence({
      libp2p,
      log: this.log,
      events: { published: e => { this.emit('published', e) }, publishFailed: e => { this.emit('publish:failed', e) } }
    })
    const relays = relayParts({
      libp2p,
      init,
      log: this.log,
      relayedAddrs: () => this.relayedMultiaddrs(),
      waitForDhtPeer: async signal => { await this.presence.waitForDhtPeer(signal) },
      searched: () => { this.reservations.wake() },
      // the relay's connection is gone: what this node can be reached by changed
      released: () => { this.reach.refresh() },
      advertised: e => { this.emit('relay:advertised', e) }
    })
    this.relayFinder = relays.finder
    this.relayAdvertiser = relays.advertiser
    this.reservations = new Reservations({
      libp2p,
      bootstrap,
      addresses,
      log: this.log,
      events: { bootstrapFailed: e => { this.emit('bootstrap:failed', e) }, noRelay: () => { this.emit('bootstrap:no-relay') } },
      searching: () => this.relayFinder?.searching ?? false
    })
    this.resolver = new PeerResolver({
      libp2p,
      dht: this.presence,
      log: this.log,
      addressBook,
      bootstrapCount: bootstrap.length,
      racing,
      carries,
      backendNames: () => this.backends.map(b => b.name),
      lookupTimeout: init.lookupTimeout,
      onLookup: e => { this.emit('lookup', e) }
    })
    // hole punching across one hard NAT needs WebRTC (it carries the tunnel) and two STUN servers (to tell the NAT kind)
    const punch = this.webrtc && carries == null && init.holePunch !== false
      ? new PunchContext({ servers: stunServersOf(init.iceServers ?? []), ports: components.punchedPorts ?? new PunchedPorts() })
      : undefined
    this.tunnels = new Tunnels({ libp2p, log, resolver: this.resolver, dhtEnabled: () => this.dhtEnabled, addresses, addressBook, racing, webrtc: this.webrtc, reversal: carries == null, punch })
    this.relayServer = new NodeRelayServer({ libp2p, limits: init.relayServer, log })
    const state = { assertRunning: () => { this.assertRunning() }, assertStarted: () => { this.assertStarted() } }
    this.app = new AppApi({ libp2p, log: this.log, resolver: this.resolver, racing, state })
  }

  /**
   * Listen addresses that did not get the port they had last time (see
   * BeamInit.listenPorts): that port was taken, so peers holding the old
   * address must learn the new one. Empty when every port came back.
   */
  get listenMoved (): ListenMove[] { return [...this.moved] }

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
    await this.libp2p.start()
    if (this.listenPorts != null) this.moved = await rememberAndWarn(this.listenPorts, listeningAddrs(this.libp2p), this.log)
    this.networkWatch.start()
    await this.relayServer.start()
    this.monitor.refreshAddresses()
    this.relayFinder?.start()
    this.connectBootstrap()
    const dhtMode = this.status().dht?.mode
    if (dhtMode === 'server') this.rootLog.info({ dhtMode }, 'DHT server: storing records and answering DHT queries for others')
    else if (dhtMode != null) this.rootLog.info({ dhtMode }, 'DHT client: looking up and publishing; answering no DHT query')
    // servers need a full routing table to answer; clients walk when they query
    if (this.dhtEnabled && this.dhtServer) this.startDhtWarmUp()
    this.relayAdvertiser?.start()
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
    const servers = stunServersOf(this.init.iceServers ?? [])
    if (servers.length === 0) throw new InvalidOptionError('checkNat needs a stun: server in iceServers (beam contacts no third-party STUN server by default)')
    const report = await probeNat({ servers, ...(options.signal != null ? { signal: options.signal } : {}) })
    options.signal?.throwIfAborted()
    this.natReport = report
    this.emit('nat', report)
    return report
  }

  /**
   * How far this node can be reached from outside its network now:
   * `public`, `relayed` (a relay without limits), `signalling-only` (only
   * limited relays) or `lan-only` (see {@link Reachability}). Changes are
   * `reachability` events (and carried by `addresses` events).
   */
  reachability (): Reachability {
    return this.reach.current
  }

  /**
   * Wait until the terms (limited or not) of the relay reservations held now
   * are known, so that {@link reachability} does not count a full relay as
   * limited while its answer is on the way. At most `timeout` ms (default 5000).
   */
  async settleReachability (options: { timeout?: number } = {}): Promise<Reachability> {
    // reservations libp2p has reported but the monitor has not seen yet
    this.monitor.refreshAddresses()
    await this.reach.settle(options.timeout ?? 5000)
    return this.reach.current
  }

  /** The node's peer id: its address, derived from its public key. */
  get peerId (): PeerId { return this.libp2p.peerId }

  /**
   * Sign bytes with this node's key (Ed25519). Anyone checks the signature
   * with the public key the peer id carries (`peerId.publicKey.verify`).
   * Sign only bytes that say what they are for (a fixed prefix), so that a
   * signature cannot be taken for another purpose.
   */
  async sign (data: Uint8Array): Promise<Uint8Array> {
    return await this.privateKey.sign(data)
  }

  /** The bootstrap/relay nodes this node was given. */
  get bootstrapAddrs (): Multiaddr[] { return this.reservations.bootstrapAddrs }

  /** Whether this node runs WebRTC (hole punching upgrades). */
  get webrtcEnabled (): boolean { return this.webrtc }

  /** Addresses other peers can dial now (listening or announced). */
  getMultiaddrs (): Multiaddr[] {
    return dialableAddrs(this.libp2p)
  }

  /**
   * The connect string for this node, with or without an access secret.
   * With `addresses: false`, the short form: the peer id and secret only,
   * for connectors that find the node's addresses in the DHT (the node must
   * be published there: {@link BeamNode.startPublishing}).
   */
  connectString (secret?: Uint8Array, options: { addresses?: boolean } = {}): string {
    const multiaddrs = options.addresses === false ? [] : this.getMultiaddrs()
    return encodeConnectString(secret != null
      ? { peerId: this.peerId, multiaddrs, secret }
      : { peerId: this.peerId, multiaddrs })
  }

  /** True once it is known that no bootstrap node runs a relay (see waitForReservation). */
  get bootstrapRunsNoRelay (): boolean { return this.reservations.bootstrapRunsNoRelay }

  /** Dial the bootstrap nodes in the background; reports failures as events. */
  connectBootstrap (): void {
    this.reservations.connectBootstrap()
  }

  /** Offer local TCP services to peers. One share per node. */
  async share (options: ShareOptions): Promise<Share> {
    this.assertStarted()
    return await this.tunnels.share(options)
  }

  /**
   * Open a local port that forwards to a peer's share. `target` is a connect
   * string, a peer id, or a parsed target.
   */
  async connect (target: string | Target, options: ConnectOptions = {}): Promise<ConnectTunnel> {
    this.assertStarted()
    options.signal?.throwIfAborted()
    return await this.tunnels.connect(target, options)
  }

  /**
   * Measure throughput and round trips to a peer's share over each path it
   * offers (or `options.backends`), one forced path at a time. The share
   * answers only if it would open a tunnel for this node (TunnelRefusedError).
   */
  async benchmark (target: string | Target, options: BenchmarkOptions = {}): Promise<BenchResult[]> {
    this.assertStarted()
    return await this.tunnels.benchmark(target, options)
  }

  // ---------------------------------------------------------------- app API

  /**
   * Serve an app protocol: `handler` gets each inbound stream as a Node.js
   * Duplex (backpressure, half-close) and the authenticated sender. Runs on
   * relayed connections too.
   */
  async handle (protocol: string, handler: (stream: Duplex, from: AppSender) => void | Promise<void>, options: HandleOptions = {}): Promise<void> {
    await this.app.handle(protocol, handler, options)
  }

  /** Stop serving an app protocol. */
  async unhandle (protocol: string): Promise<void> {
    await this.app.unhandle(protocol)
  }

  /** Open a stream of an app protocol to a peer (peer id, connect string or name). */
  async open (target: string | Target, protocol: string, options: { signal?: AbortSignal } = {}): Promise<Duplex> {
    return await this.app.open(target, protocol, options)
  }

  /** Receive one-way app messages (one handler; a new one replaces it). */
  async onMessage (handler: MessageHandler): Promise<void> {
    await this.app.onMessage(handler)
  }

  /** Answer app calls (one handler; a new one replaces it). */
  async onCall (handler: CallHandler): Promise<void> {
    await this.app.onCall(handler)
  }

  /** Send a one-way app message (at most 32 KiB). Resolves when the peer has it. */
  async send (target: string | Target, data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.app.send(target, data, options)
  }

  /**
   * Call a peer: send `request`, get its handler's reply (each at most
   * 32 KiB). Rejects with RemoteCallError if the handler failed or the peer
   * takes no calls, with a TimeoutError after `timeout` ms (default 30 s).
   */
  async call (target: string | Target, request: Uint8Array, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<Uint8Array> {
    return await this.app.call(target, request, options)
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
      share: this.tunnels.shareStatus(),
      tunnels: this.tunnels.connectCount,
      nat: this.natReport ?? null,
      reachability: this.reach.current
    }
  }

  // ---------------------------------------------------------------- discovery

  /** Whether this node runs the DHT (and can find peers by id). */
  get dhtEnabled (): boolean { return this.presence.enabled }

  /**
   * Turn what a user typed into a target: a connect string, a peer id, or
   * `name.peer-id-prefix` (looked up in the DHT).
   */
  async resolve (text: string, signal?: AbortSignal): Promise<Target> {
    return await this.resolver.resolve(text, signal)
  }

  /** Find a peer's addresses in the DHT. Rejects with PeerNotFoundError. */
  async lookup (peerId: PeerId, signal?: AbortSignal): Promise<{
    /** The addresses found. */
    multiaddrs: Multiaddr[]
    /** How long the lookup took, in ms. */
    ms: number
  }> {
    return await this.resolver.lookup(peerId, signal)
  }

  /**
   * Wait until the DHT's routing table holds a peer, so that a query does not
   * fail at once for want of one (a fresh node is still dialling its
   * bootstrap nodes). Reads kad-dht's `routingTable.size` (the KadDHT class
   * has it; the service interface does not). Bounded by `signal`.
   */
  async waitForDhtPeer (signal: AbortSignal): Promise<void> {
    await this.presence.waitForDhtPeer(signal)
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
    this.presence.startWarmUp()
  }

  /**
   * Keep this node findable in the DHT under its peer id (and `names`):
   * announce now, retry with backoff until it works, then again every 22 h
   * and whenever this node's addresses change. Stops with the node.
   */
  startPublishing (names: string[] = []): void {
    this.presence.startPublishing(names)
  }

  // ---------------------------------------------------------------- relays

  /** Relayed addresses this node holds (reservations), if any. */
  relayedMultiaddrs (): Multiaddr[] {
    return this.reservations.relayedMultiaddrs()
  }

  /**
   * Wait until at least one relay reservation is in place, or `timeout` ms
   * have passed. Resolves the relayed addresses (empty on timeout).
   */
  async waitForReservation (options: { timeout?: number, signal?: AbortSignal } = {}): Promise<Multiaddr[]> {
    return await this.reservations.waitForReservation(options)
  }

  /** The relays the relay finder holds now, best first (empty on a node without `reservations`). */
  heldRelays (): CheckedRelay[] {
    return this.relayFinder?.relays ?? []
  }

  /**
   * What a relay node is carrying now and has carried since it started
   * (zeros on a node that is not a relay).
   */
  relayStats (): RelayStats {
    return this.relayServer.stats()
  }

  /** @internal counters of a relay node (set at start) */
  get relayAccounting (): RelayAccounting | undefined { return this.relayServer.accounting }

  // ---------------------------------------------------------------- lifecycle

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
    this.networkWatch.stop()
    this.presence.stop()
    this.reach.close()
    this.relayFinder?.stop()
    this.relayAdvertiser?.stop()
    this.relayServer.stop()
    await this.tunnels.close()
    await this.libp2p.stop()
    this.monitor.detach()
    for (const b of this.backends) await b.stop?.().catch((err: Error) => { this.log.warn({ backend: b.name, err: err.message }, 'backend did not stop cleanly') })
  }
}

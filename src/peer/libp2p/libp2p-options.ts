/**
 * The libp2p configuration beam builds; not a patch itself. Written for
 * libp2p 3.3.11 (package.json). The patches it wires in (noise.ts,
 * noise-crypto.ts, batched-tcp.ts, optimistic-select.ts, muxer-tap.ts,
 * lazy-transport.ts) each name the upstream version they were measured on
 * and the upstream change that retires them.
 */
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import type { ComponentLogger, PrivateKey, StreamMuxerFactory } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { QUIC_V1, WebRTC, WebSockets, WebSocketsSecure } from '@multiformats/multiaddr-matcher'
import type { Libp2pOptions } from 'libp2p'
import { relayServer, relayTransport } from '../../relay/index.ts'
import { TUNNEL_PROTOCOL } from '../../signaling/index.ts'
import type { ResolvedRelayLimits } from '../../relay/index.ts'
import type { TransportFactory } from '../../backends/index.ts'
import type { KadDHTComponents } from '@libp2p/kad-dht'
import { ADDRESS_DIAL_TIMEOUT, INBOUND_CONNECTIONS_PER_SECOND, KEEP_ALIVE_INTERVAL, MAX_CONNECTIONS, MAX_EARLY_STREAMS, MAX_INCOMING_PENDING_CONNECTIONS, MAX_MUXER_STREAMS, MAX_PING_STREAMS, MAX_STREAM_WINDOW } from '../constants.ts'
import { batchedTcp } from './batched-tcp.ts'
import { lazyTransport } from './lazy-transport.ts'
import { beamNoise } from './noise.ts'
import { coalesceFrames } from './coalesced-frames.ts'
import { tapMuxers } from './muxer-tap.ts'
import { piggybackWindowUpdates } from './window-updates.ts'
import { optimisticSelect } from './optimistic-select.ts'
import { protocolMerges } from './protocol-merges.ts'
import { installOfferCandidateHold } from './offer-candidates.ts'
import { installChannelFailFast } from './channel-fail-fast.ts'
import { installQuicReadSize } from './quic-reads.ts'

/** Shortest time libp2p's connection monitor waits for a ping before it aborts the connection, in ms (libp2p: 5000). */
const CONNECTION_PING_MIN_TIMEOUT = 20_000
import { compareAddresses } from '../connect/path.ts'
import { RECORD_NAMESPACE, selectRecord, validateForDht } from '../discovery/records.ts'
import { DHT_DATASTORE_PREFIX, withGuardedRecordStore } from '../discovery/record-store.ts'

/** An ICE server for WebRTC, as in the browser API. */
export interface IceServer {
  /** `stun:host:port` or `turn:host:port?transport=udp|tcp` URL(s). */
  urls: string | string[]
  /** TURN user name. */
  username?: string
  /** TURN password. */
  credential?: string
}

/** Which transports a node runs. All default to on. */
export interface TransportSelection {
  /** TCP. @default true */
  tcp?: boolean
  /** QUIC over UDP. @default true */
  quic?: boolean
  /** WebSockets (ws/wss): dialled where a peer offers them; relays listen on them. */
  websockets?: boolean
  /** WebRTC (direct upgrades of relayed connections, hole punching). @default true */
  webrtc?: boolean
  /** Dialling and listening through circuit relays. @default true */
  relay?: boolean
}

export interface NetworkInit {
  privateKey: PrivateKey
  listen: string[]
  announce: string[]
  transports: Required<TransportSelection>
  iceServers: IceServer[]
  /** Pin WebRTC's ICE to one local address (loopback tests only). */
  webrtcBindAddress?: string
  /** A punched UDP port the next WebRTC connection's ICE agent binds (hole punching across one hard NAT). @default unset */
  punchedPorts?: { take: () => number | undefined }
  /** Run a circuit-relay-v2 server with these limits (`beam relay`). */
  relayServer?: ResolvedRelayLimits
  /** Peer ids allowed to reserve on this relay; empty = anyone. */
  relayAllow?: string[]
  /** Run the Kademlia DHT with this protocol id; undefined = no DHT. */
  dhtProtocol?: string
  /**
   * Run the DHT as a server (store records, answer queries) instead of a
   * client (query and publish only). Only for nodes others can reach for a
   * long time: relays, or nodes told so explicitly. @default false
   */
  dhtServer?: boolean
  /**
   * Peers beam's own dial race is running for (RacingPeers in dialer.ts).
   * Until it ends, a dial that names such a peer in a direct address is
   * refused: only the race dials them directly (by bare address), others get
   * the peer's relayed addresses. @default none
   */
  racingPeer?: (peer: string) => boolean
  /** Transports contributed by backends (Tor, I2P, …), added after beam's own. @default [] */
  backendTransports?: TransportFactory[]
  /**
   * Anonymous-only mode (e.g. Tor-only): the addresses the node's backends
   * carry (carriedBy in backends/). Every other address is refused by the
   * connection gater, kept out of the peer store (so identify, the DHT and
   * merges cannot add it), and nothing is resolved: libp2p gets no multiaddr
   * resolvers (it resolves `/dnsaddr` before the gater runs) and a DNS that
   * refuses every query. @default unset (any address; libp2p's resolvers)
   */
  carries?: (ma: Multiaddr) => boolean
  /** Budget of one address dial, in ms. @default ADDRESS_DIAL_TIMEOUT */
  addressDialTimeout?: number
  /**
   * Connections cross a high-latency network (Tor, I2P): libp2p's connection
   * monitor then waits up to 2 minutes (at least 30 s) for a ping before it
   * drops a connection, instead of its adaptive 5-60 s, which on a loaded
   * Tor circuit dropped working tunnels. @default false
   */
  highLatency?: boolean
  logger: ComponentLogger
}

/** Services every beam node runs. */
/** The libp2p services of a beam node (`node.libp2p.services`). */
export interface BeamServices {
  /** libp2p identify. */
  identify: ReturnType<ReturnType<typeof identify>>
  /** libp2p ping. */
  ping: ReturnType<ReturnType<typeof ping>>
  [key: string]: unknown
}

/**
 * The one place that chooses libp2p modules and their settings for a beam
 * node. Later capabilities (DHT, DCUtR, AutoNAT, backends) are added here.
 *
 * Modules a node may not use (QUIC, WebSockets, WebRTC with node-datachannel,
 * the DHT, AutoNAT) are imported only when selected: module loading is most of
 * a beam process's start-up (see docs/performance.md).
 */
export async function libp2pOptions (init: NetworkInit): Promise<Libp2pOptions<BeamServices>> {
  const transports: NonNullable<Libp2pOptions['transports']> = []
  const carries = init.carries
  // one writev per batch instead of a write per piece (batched-tcp.ts)
  if (init.transports.tcp) transports.push(batchedTcp())
  // QUIC too, on a node that does not listen on it (a connector): building
  // it loads a native add-on, makes a TLS certificate and opens two UDP
  // sockets, and a connector to a share on this machine dials loopback TCP
  // first (dialer.ts), so most never need it
  if (init.transports.quic) {
    const load = async (): Promise<TransportFactory> => {
      // reads of up to 64 KiB instead of the binding's fixed 4 KiB (quic-reads.ts)
      await installQuicReadSize()
      return (await import('@chainsafe/libp2p-quic')).quic()
    }
    transports.push(init.listen.some(isQuicAddress)
      ? await load()
      : lazyTransport({ name: '@chainsafe/libp2p-quic', matches: isQuicAddress, load }))
  }
  // WebSockets and WebRTC are built at start only on nodes that listen on
  // them (a relay on /ws, a share with a reservation on /webrtc); elsewhere
  // they are only dialed, rarely (a peer's /ws address, the upgrade of a
  // relayed tunnel), and are imported on that first dial (lazy-transport.ts)
  if (init.transports.websockets) {
    const load = async (): Promise<TransportFactory> => (await import('@libp2p/websockets')).webSockets()
    transports.push(init.listen.some(isWebSocketsAddress)
      ? await load()
      : lazyTransport({ name: '@libp2p/websockets', matches: isWebSocketsAddress, load }))
  }
  if (init.transports.webrtc) {
    const base: RTCConfiguration & { bindAddress?: string } = { iceServers: init.iceServers }
    if (init.webrtcBindAddress != null) base.bindAddress = init.webrtcBindAddress
    // asked for every new WebRTC connection: after a hole punch the next one binds the punched
    // port (node-datachannel's portRangeBegin/End; its RTCPeerConnection passes them through)
    const punched = init.punchedPorts
    const rtcConfiguration = (): RTCConfiguration & { bindAddress?: string, portRangeBegin?: number, portRangeEnd?: number } => {
      const port = punched?.take()
      return port != null ? { ...base, portRangeBegin: port, portRangeEnd: port } : { ...base }
    }
    const load = async (): Promise<TransportFactory> => {
      // offerers send their candidates once they have the answer (offer-candidates.ts)
      await installOfferCandidateHold()
      // a dial whose connection failed (DTLS) fails at once, not at its timeout (channel-fail-fast.ts)
      await installChannelFailFast()
      return (await import('@libp2p/webrtc')).webRTC({ rtcConfiguration })
    }
    transports.push(init.listen.some(isWebrtcAddress)
      ? await load()
      : lazyTransport({ name: '@libp2p/webrtc', matches: isWebrtcAddress, load }))
  }
  if (init.transports.relay) transports.push(relayTransport())
  transports.push(...(init.backendTransports ?? []))

  const services: Record<string, unknown> = {
    identify: identify(),
    // beam's pings and the connection monitor's share the protocol (constants.ts)
    ping: ping({ maxInboundStreams: MAX_PING_STREAMS, maxOutboundStreams: MAX_PING_STREAMS }),
    // no peer-store write per stream for a protocol the peer already has (protocol-merges.ts)
    protocolMerges: protocolMerges()
    // No DCUtR: its TCP hole punch cannot work in js-libp2p 3.3 (see
    // docs/nat-traversal.md), and its dials to a peer's observed addresses
    // (useless behind a symmetric NAT) hold up every other dial to that peer,
    // which libp2p serialises into one job. beam upgrades relayed tunnels
    // itself (ConnectTunnel.maybeUpgrade: WebRTC through the relay).
  }
  if (init.dhtProtocol != null) {
    const { kadDHT, passthroughMapper } = await import('@libp2p/kad-dht')
    const dht = kadDHT({
      protocol: init.dhtProtocol,
      // A client queries, puts values and adds provider records, but does not
      // answer DHT requests or enter other nodes' routing tables: a node
      // behind a NAT or one that lives for minutes must not be a server.
      // Always explicit: left unset, kad-dht switches to server mode by
      // itself when the node has a public address.
      clientMode: init.dhtServer !== true,
      // keep every address in DHT answers: LAN and relayed addresses included
      // (a connector dials all direct ones at once; a dead one costs nothing)
      peerInfoMapper: passthroughMapper,
      // run the first self-query at once instead of after 1 s: every query
      // waits for it, so a connector's first lookup took a second longer;
      // beam waits for a DHT peer itself before querying (BeamNode.waitForDhtPeer)
      initialQuerySelfInterval: 0,
      // beam's signed records (node.records): checked before they are stored
      validators: { [RECORD_NAMESPACE]: validateForDht },
      selectors: { [RECORD_NAMESPACE]: selectRecord },
      // where guardRecordStore looks for records (kad-dht's default, pinned)
      datastorePrefix: DHT_DATASTORE_PREFIX
    })
    // kad-dht stores a validated PUT_VALUE over a newer record: the guarded
    // store refuses to replace a beam record by an older one (record-store.ts)
    services.dht = (components: KadDHTComponents) => dht(withGuardedRecordStore(components))
  }
  if (init.relayServer != null) {
    services.relay = relayServer(init.relayServer)
    // Relays only. On a share, AutoNAT stopped the relay reservation in the
    // NAT lab (js-libp2p 3.3); shares put their unconfirmed interface
    // addresses in connect strings instead (see BeamNode.getMultiaddrs).
    const { autoNAT } = await import('@libp2p/autonat')
    services.autonat = autoNAT()
  }

  return {
    privateKey: init.privateKey,
    logger: init.logger,
    addresses: {
      listen: init.listen,
      announce: init.announce
    },
    transports,
    // Node's native ChaCha20-Poly1305 with the key imported once per session,
    // and a receive path without per-message copies and exceptions (noise.ts)
    connectionEncrypters: [beamNoise()],
    streamMuxers: [beamMuxer()],
    // libp2p pings every connection each 10 s and aborts it (every stream and
    // relay reservation on it) when a ping takes longer than max(5 s, 1.2 x
    // average RTT): on a loaded machine a busy process misses that and healthy
    // connections die mid-transfer. A 20 s floor still ends dead connections
    // (e.g. a NAT that dropped its mapping) within half a minute.
    // Tor and other high-latency backends: longer still (a circuit adds seconds under load)
    connectionMonitor: init.highLatency === true
      ? { pingTimeout: { minTimeout: 30_000, maxTimeout: 120_000 } }
      : { pingTimeout: { minTimeout: CONNECTION_PING_MIN_TIMEOUT } },
    connectionManager: {
      addressSorter: compareAddresses,
      // libp2p allows 5 new inbound connections per second from one IP; a relay
      // serving peers behind one carrier-grade NAT (or a LAN) needs more
      inboundConnectionThreshold: INBOUND_CONNECTIONS_PER_SECOND,
      maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
      maxConnections: maxConnections(init.relayServer),
      // per address of a peer (libp2p: 6 s): a circuit through a busy relay
      // (HOP, STOP, then Noise over the circuit) can take longer than that
      addressDialTimeout: init.addressDialTimeout ?? ADDRESS_DIAL_TIMEOUT,
      ...(carries != null ? { resolvers: {} } : {})
    },
    // anonymous-only: no name is ever resolved (an empty map means none: libp2p keeps it)
    ...(carries != null ? { dns: refusingDns } : {}),
    // beam dials the addresses a user handed it, loopback and LAN included
    connectionGater: {
      denyDialMultiaddr: (ma) => (carries != null && !carries(ma)) ||
        (init.racingPeer != null && isDirectDialOf(ma, init.racingPeer)),
      ...(carries != null ? { filterMultiaddrForPeer: (_peer, ma) => carries(ma) } : {}),
      ...(init.relayAllow != null && init.relayAllow.length > 0
        ? { denyInboundRelayReservation: (peer) => !(init.relayAllow ?? []).includes(peer.toString()) }
        : {})
    },
    services: services as unknown as Libp2pOptions<BeamServices>['services']
  }
}

/**
 * beam's stream muxer: yamux with beam's stream limits and windows; tunnel
 * streams skip multistream-select's round trip (optimistic-select.ts), the
 * frames of one turn leave as one Noise message (coalesced-frames.ts), and a
 * small frame's window update leaves with the stream's next frame
 * (window-updates.ts).
 */
export function beamMuxer (): () => StreamMuxerFactory {
  const make = yamux({
    enableKeepAlive: true,
    keepAliveInterval: KEEP_ALIVE_INTERVAL,
    maxInboundStreams: MAX_MUXER_STREAMS,
    maxOutboundStreams: MAX_MUXER_STREAMS,
    maxEarlyStreams: MAX_EARLY_STREAMS,
    streamOptions: {
      maxStreamWindowSize: MAX_STREAM_WINDOW,
      // tunnels carry idle SSH and database sessions: never time a stream out
      inactivityTimeout: 0
    }
  })
  return optimisticSelect(tapMuxers(make, (muxer) => {
    coalesceFrames(muxer)
    piggybackWindowUpdates(muxer)
  }), [TUNNEL_PROTOCOL])
}

/** Raised by the DNS of an anonymous-only node: it resolves nothing. */
export class DnsRefusedError extends Error {
  constructor (domain: string) {
    super(`not resolving ${domain}: an anonymous-only node makes no DNS query`)
    this.name = 'DnsRefusedError'
  }
}

/**
 * libp2p's DNS for anonymous-only nodes: every query fails at once, without
 * touching the network. (An empty resolver map in @multiformats/dns means
 * its default, the system resolver, so it cannot be used to say "none".)
 */
const refusingDns: NonNullable<Libp2pOptions['dns']> = {
  query: async (domain: string) => { throw new DnsRefusedError(domain) }
}

/**
 * Whether a multiaddr (or listen address string) is one that @libp2p/webrtc
 * listens on and dials: `/webrtc`, or `…/p2p-circuit/webrtc/p2p/<peer>` (the
 * transport's own matcher).
 */
export function isWebrtcAddress (ma: Multiaddr | string): boolean {
  return WebRTC.exactMatch(typeof ma === 'string' ? multiaddr(ma) : ma)
}

/** Whether a multiaddr (or listen address string) is a `/quic-v1` one, as @chainsafe/libp2p-quic matches them. */
export function isQuicAddress (ma: Multiaddr | string): boolean {
  return QUIC_V1.exactMatch(typeof ma === 'string' ? multiaddr(ma) : ma)
}

/** Whether a multiaddr (or listen address string) is a `/ws` or `/wss` one, as @libp2p/websockets matches them. */
export function isWebSocketsAddress (ma: Multiaddr | string): boolean {
  const m = typeof ma === 'string' ? multiaddr(ma) : ma
  return WebSockets.exactMatch(m) || WebSocketsSecure.exactMatch(m)
}

/**
 * Whether `ma` is a direct address (no relay) that names, at its end, a peer
 * for which `racing` is true: the connection gater refuses those while
 * beam's dial race runs (why: RacingPeers in dialer.ts).
 */
export function isDirectDialOf (ma: Multiaddr, racing: (peer: string) => boolean): boolean {
  const comps = ma.getComponents()
  if (comps.some(c => c.name === 'p2p-circuit')) return false
  const last = comps.at(-1)
  return last?.name === 'p2p' && last.value != null && racing(last.value)
}

/**
 * The connection ceiling of a node. A relay holds a connection per reserving
 * peer and one per connecting peer of each circuit it carries; the second
 * term is doubled for connecting peers that redial while their old
 * connection is still closing, and 256 are left for DHT traffic (the relay
 * is also a DHT server).
 */
export function maxConnections (relay?: ResolvedRelayLimits): number {
  if (relay == null) return MAX_CONNECTIONS
  return Math.max(MAX_CONNECTIONS, relay.maxReservations + 2 * relay.maxRelayedConnections + 256)
}

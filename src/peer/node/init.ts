import type { PunchedPorts } from '../punch/index.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { RelayLimits } from '../../relay/index.ts'
import type { Backend } from '../../backends/index.ts'
import type { BeamServices, IceServer, TransportSelection } from '../libp2p/libp2p-options.ts'
import type { RacingPeers } from '../connect/dialer.ts'
import type { Logger } from '../logger.ts'
import type { NatReport } from '../diagnostics/nat-probe.ts'
import type { AddressesEvent, PeerPathEvent, RelayEvent } from './connectivity.ts'
import type { Reachability } from './reachability.ts'
import type { RelayFinderOptions } from '../discovery/relay-finder.ts'
import type { ListenPortsMemory } from './listen-ports.ts'

/**
 * The shapes a beam node is described by: what it is built from
 * ({@link BeamInit}, with its documented defaults), what it emits
 * ({@link BeamNodeEvents}) and what it reports ({@link NodeStatus}); and
 * the parts createBeam builds a BeamNode from ({@link BeamNodeComponents}).
 */

/** Options of {@link createBeam}: every field is optional. */
export interface BeamInit {
  /** The node's identity. @default a new in-memory Ed25519 key (a new peer id each run) */
  privateKey?: PrivateKey
  /** Multiaddrs to listen on. @default [] (dial only; shares pass DEFAULT_SHARE_LISTEN) */
  listen?: string[]
  /** Addresses to announce instead of the listening ones. @default [] */
  announce?: string[]
  /**
   * A file that remembers, per peer id, the port each any-port listen
   * address (`/ip4/0.0.0.0/tcp/0`, `/ip6/::/udp/0/quic-v1`, …) was bound to,
   * so that the node comes back on the same ports and the addresses it handed
   * out stay good. A remembered port that cannot be bound now (another socket
   * holds it) is replaced by a fresh one: {@link BeamNode.listenMoved} lists
   * those. Meant for a node with a lasting identity; addresses with a fixed
   * port are left alone. @default unset (new ports each start)
   */
  listenPorts?: string
  /** Bootstrap/relay nodes dialled at start (failures are logged, not fatal). @default [] */
  bootstrap?: Multiaddr[]
  /** ICE servers for WebRTC. @default [] (no third-party STUN server is ever contacted by default) */
  iceServers?: IceServer[]
  /** Pin WebRTC ICE to this local address; for loopback-only tests. @default unset */
  webrtcBindAddress?: string
  /**
   * Hole punching across one symmetric NAT (the birthday method,
   * `/beam/punch/1.0.0`): a relayed tunnel between an endpoint-independent
   * (or public) side and a symmetric side punches a UDP pair and carries
   * WebRTC on it. Needs WebRTC and two `stun:` servers in `iceServers`.
   * @default true
   */
  holePunch?: boolean
  /** Transports to run. @default all on: tcp, quic, websockets, webrtc, relay */
  transports?: TransportSelection
  /**
   * Relay reservations to hold, so that peers that cannot reach this node
   * directly can come through a relay. The relays are found and checked by
   * the node's relay finder: bootstrap nodes that run a relay, relays
   * announced in the DHT (see `relayAdvertise`), and while nothing better is
   * known any connected relay. This many relays whose circuits are unlimited
   * are held, the lowest round trip first; while none is found, one limited
   * relay (e.g. a public libp2p relay) is held for signalling. Also listens
   * for WebRTC upgrades of relayed connections. @default 0
   */
  reservations?: number
  /** Tuning of the relay finder (with `reservations`). @default the finder's defaults (search every 60 s while short, checks bounded by 10 s) */
  relayFinder?: RelayFinderOptions
  /** Run a relay server with these limits (what `beam relay` does). @default unset (no relay server) */
  relayServer?: RelayLimits
  /** With `relayServer`: only these peer ids may reserve. @default [] (anyone) */
  relayAllow?: string[]
  /**
   * With `relayServer` and the DHT: announce the relay in the DHT under the
   * well-known relay key (a provider record of `/beam/relay/v1`), so that
   * shares find it without a list; republished every 30 min.
   * @default true, unless `relayAllow` makes it a private relay
   */
  relayAdvertise?: boolean
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
  /** pino logger; each component logs through a child of it. @default silent */
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
  /** This relay was announced in the DHT under the relay key (see `relayAdvertise`). */
  'relay:advertised': [{
    /** How long the announcement took, in ms. */
    ms: number
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
  /** The addresses other peers can dial this node on changed (with the reachability they give). */
  addresses: [AddressesEvent & {
    /** {@link BeamNode.reachability} after the change. */
    reachability: Reachability
  }]
  /** {@link BeamNode.reachability} changed (a reservation came or went, its terms became known, an address was confirmed). */
  reachability: [{
    /** The new classification. */
    reachability: Reachability
  }]
  /** {@link BeamNode.checkNat} finished: how this machine's NAT maps UDP, as the node's STUN servers saw it. */
  nat: [NatReport]
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
  /** How far this node can be reached from outside its network (as {@link BeamNode.reachability}). */
  reachability: Reachability
}

/** What a {@link BeamNode} is built from (by createBeam). */
export interface BeamNodeComponents {
  /** The libp2p node, built but not started. */
  libp2p: Libp2p<BeamServices>
  /** The init, as createBeam shaped it. */
  init: BeamInit
  /** The root logger; the node's components log through children of it. */
  log: Logger
  /** The node's identity (it signs the node's records). */
  privateKey: PrivateKey
  /** Peers a dial race runs for (shared with libp2p's dial filter). */
  racing: RacingPeers
  /** The networks this node uses. @default [directBackend] */
  backends?: Backend[]
  /** Anonymous-only node: the addresses its backends carry. @default unset (every address) */
  carries?: ((ma: Multiaddr) => boolean) | undefined
  /** Whether the node is a DHT server (it then fills its routing table at start). @default false */
  dhtServer?: boolean
  /** Where the node remembers its listen ports once it listens (see BeamInit.listenPorts). @default unset */
  listenPorts?: ListenPortsMemory
  /** The punched-port slot the node's WebRTC transport reads (hole punching). @default a slot nothing reads */
  punchedPorts?: PunchedPorts
}

import { ACCESS_SECRET_LENGTH } from '../signaling/index.ts'

/** How long to wait for any address of a peer to answer, in ms. */
export const DEFAULT_DIAL_TIMEOUT = 30_000

/** How long a share waits for its local service to accept a connection, in ms. */
export const DEFAULT_SERVICE_CONNECT_TIMEOUT = 5_000

/** Tunnel streams a peer may have open on one connection, each way. */
export const DEFAULT_MAX_TUNNEL_STREAMS = 4096

/**
 * Tunnel handshakes a connector keeps in flight at once; further local
 * connections wait their turn. Half the share's per-peer cap
 * (DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER), which two connectors of one
 * machine (one identity) then share without tripping it.
 */
export const DEFAULT_MAX_HANDSHAKES_IN_FLIGHT = 32

/**
 * Tunnel streams of one peer (over all its connections) that may wait for
 * their request at once. A connector's request follows its stream at once
 * (with the stream itself over TCP, WebSockets and relays, one round trip
 * later over QUIC and WebRTC), so this is only reached by a burst of more
 * than this many new local connections within one round trip, or by a peer
 * that opens streams and sends nothing. Past it new streams are reset.
 */
export const DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER = 64

/** Tunnel streams waiting for their request at once, over all peers. Past it new streams are reset. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 512

/**
 * Tunnels one peer may have open on a share at once (all `beam connect`
 * processes of one machine share its identity, hence this cap). Twice the
 * 1,000 concurrent connections of the benchmark target; past it the share
 * answers OVERLOADED.
 */
export const DEFAULT_MAX_TUNNELS_PER_PEER = 2048

/**
 * Tunnels a share keeps open at once over all peers: each holds a socket to
 * the service and, under load, ~80 KiB of memory (docs/benchmarks.md: 1,000
 * concurrent tunnels took a share from 90 to 171 MiB). Past it the share
 * answers OVERLOADED.
 */
export const DEFAULT_MAX_TUNNELS = 8192

/**
 * Failed handshakes on one connection (refused by the access policy, no
 * request in time, an undecodable request) before a share closes it. A
 * connector with a wrong secret gets its clear refusal first.
 */
export const DEFAULT_MAX_HANDSHAKE_FAILURES = 3

/**
 * Streams the muxer accepts on one connection, each way: the tunnel streams
 * plus room for identify, ping and app protocols. yamux's own default (1,000)
 * would reset tunnel streams long before a share's limit is reached.
 */
export const MAX_MUXER_STREAMS = DEFAULT_MAX_TUNNEL_STREAMS + 256

/**
 * Streams the remote may open on a new connection before libp2p has started
 * listening for them on it (between the upgrade and the connection's stream
 * handler). Past this, libp2p's muxer aborts the whole connection. Its default
 * (10) is reached by a connector whose clients queued while it dialled: the
 * frames of one turn arrive together (src/peer/libp2p/coalesced-frames.ts),
 * and more than ten tunnel streams opened at once reset the connection.
 * Each early stream waits with what it carried, within its window.
 */
export const MAX_EARLY_STREAMS = 256

/**
 * Ping streams at once on one connection, each way. libp2p's ping service
 * allows 1 outbound (2 inbound), and its connection monitor pings every
 * connection every 10 s through the same protocol and the same limit; beam
 * pings too (choosing a path, `beam doctor`). When both overlapped, the
 * monitor's ping failed with "Too many outbound protocol streams", which it
 * counts as a dead connection: it aborted a healthy connection, and the
 * tunnels on it, and beam's own ping failed the same way.
 */
export const MAX_PING_STREAMS = 8

/**
 * Length of a share's access secret, in bytes.
 * @deprecated the same value as ACCESS_SECRET_LENGTH (signaling/), which is the one definition.
 */
export const SECRET_LENGTH = ACCESS_SECRET_LENGTH

/** Where a connector binds its local port unless told otherwise. */
export const DEFAULT_LOCAL_HOST = '127.0.0.1'

/** Where a share finds the service it shares unless told otherwise. */
export const DEFAULT_SERVICE_HOST = '127.0.0.1'

/** Listen addresses of a share: every interface, TCP and QUIC, ports picked by the OS. */
export const DEFAULT_SHARE_LISTEN = [
  '/ip4/0.0.0.0/tcp/0',
  '/ip4/0.0.0.0/udp/0/quic-v1',
  '/ip6/::/tcp/0',
  '/ip6/::/udp/0/quic-v1'
]

/** The ping protocol, used to measure the round trip of one connection. */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'

/** yamux receive window ceiling per stream (the library default, stated). */
export const MAX_STREAM_WINDOW = 16 * 1024 * 1024

/** Keep-alive ping interval of the muxer, in ms; also keeps idle tunnels alive. */
export const KEEP_ALIVE_INTERVAL = 30_000

/**
 * Kademlia protocol id: the public libp2p (Amino) DHT's, so beam nodes can use
 * its existing network; beam records are provider records, which it accepts.
 */
export const DEFAULT_DHT_PROTOCOL = '/ipfs/kad/1.0.0'

/** How long a connector looks a peer up in the DHT, in ms. */
export const DEFAULT_LOOKUP_TIMEOUT = 30_000

/**
 * How long DHT servers keep a provider record, in ms: 48 h. The public
 * network's value since libp2p/specs#451 (measurement RFM17, 2022): go's
 * `amino.DefaultProvideValidity`, js kad-dht's `PROVIDERS_VALIDITY`
 * (`reprovide.validity`, checked in @libp2p/kad-dht 16.4.5).
 */
export const PROVIDER_RECORD_VALIDITY = 48 * 60 * 60_000

/**
 * Re-announce a share in the DHT this often when nothing changed, in ms: 22 h,
 * kubo's default (`Reprovider.Interval`, now `Provide.DHT.Interval`; ipfs/kubo#9326,
 * libp2p/specs#451): under half of {@link PROVIDER_RECORD_VALIDITY}, so one
 * missed round still leaves the records alive. js kad-dht re-provides its own
 * records once they are 24 h old (`reprovide.threshold`, checked hourly);
 * beam's round comes first and keeps that one idle. Every announcement is a
 * DHT walk plus a request to each of the 20 closest servers per key: a share
 * announcing every 30 min (beam before issue 20) cost the public network 44
 * times as much for nothing. Address changes and failed announcements have
 * their own, faster schedule (discovery/publish-schedule.ts).
 */
export const REPUBLISH_INTERVAL = 22 * 60 * 60_000

/** New inbound connections accepted per second from one IP address (libp2p default: 5). */
export const INBOUND_CONNECTIONS_PER_SECOND = 50

/** How long libp2p may spend on one address of a peer, in ms (libp2p default: 6000). */
export const ADDRESS_DIAL_TIMEOUT = 12_000

/**
 * Connections a node keeps open at once (libp2p default: 300). Past it libp2p
 * prunes connections, live tunnels included, and every circuit relayed to a
 * share is a connection of its own: a share accepts 1,024 relayed
 * connections (DEFAULT_MAX_INBOUND_RELAYED) plus direct ones.
 */
export const MAX_CONNECTIONS = 2048

/**
 * Inbound connections in their upgrade (Noise, muxer) at once (libp2p
 * default: 10). Past it new TCP connections are reset: a relay that many
 * peers reach at once refused most of a burst of circuits.
 */
export const MAX_INCOMING_PENDING_CONNECTIONS = 64

/**
 * Well-known public STUN servers (three operators, each also in
 * @libp2p/webrtc's own default list). createBeam never uses them by itself
 * (its `iceServers` default is none); the `beam` CLI uses them when no beam
 * relay offers STUN and no ICE server is given, unless told not to
 * (docs/internet.md, "What a default run contacts"). A STUN server learns
 * this machine's public IP address and port, nothing else.
 */
export const PUBLIC_STUN_SERVERS: readonly string[] = [
  'stun:stun.l.google.com:19302',
  'stun:stun.cloudflare.com:3478',
  'stun:global.stun.twilio.com:3478'
]

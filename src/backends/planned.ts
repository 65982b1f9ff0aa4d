import type { Backend, BackendAvailability } from './backend.ts'

/** A yes/no answer that research could not always settle. */
export type Finding = 'yes' | 'no' | 'unknown'

/**
 * What was found out about a network beam does not support yet (issue 6,
 * "The other networks"). docs/backends.md has one section per entry; keep
 * both in step.
 */
export interface PlannedResearch {
  /** What the network offers a Node.js program today: SDK, daemon API, or nothing. */
  forNode: string
  /** Whether its daemon or SDK installs here from npm or Debian. */
  installableHere: Finding
  /** Whether a private network of it runs offline on loopback (as the Tor tests do). */
  offlineTestable: Finding
  /** The concrete way to turn it into a beam backend. */
  implementPath: string
  /** Anchor of its section in docs/backends.md. */
  docs: string
}

/** A registered backend that does not work yet, with why and how it would. */
export interface PlannedBackend extends Backend {
  research: PlannedResearch
}

interface PlannedEntry {
  name: string
  description: string
  addressProtocols: string[]
  anonymity: { sharer: boolean, connector: boolean }
  latency: Backend['latency']
  /** One line for `beam backends`: why it is not available. */
  reason: string
  research: PlannedResearch
}

/**
 * Networks in beam's plan that beam cannot use yet. They are listed so that
 * `beam backends` says so plainly instead of pretending; each entry turns into
 * a real backend (with its own folder here) when it works and is tested.
 */
const PLANNED: PlannedEntry[] = [
  // The tor branch replaces this entry with a real backend (src/backends/tor);
  // the I2P backend (src/backends/i2p) is registered in defaultBackends().
  {
    name: 'tor',
    description: 'Tor onion services (v3)',
    addressProtocols: ['onion3'],
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    reason: 'not implemented yet: next backend (onion services through the Tor control port, dialling through SOCKS5)',
    research: {
      forNode: 'Debian tor daemon: control port (ADD_ONION/DEL_ONION) and SOCKS5 port',
      installableHere: 'yes',
      offlineTestable: 'yes',
      implementPath: 'src/backends/tor on the tor branch',
      docs: '#tor'
    }
  },
  {
    name: 'nym',
    description: 'Nym mixnet',
    addressProtocols: [],
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    reason: 'not implemented: Nym\'s npm SDK (a WASM client) sends messages through the public Nym API and gateways; a stream layer is missing, and no local test mixnet exists to prove one (nym-node is on neither npm nor Debian)',
    research: {
      forNode: '@nymproject/sdk and @nymproject/nodejs-client-commonjs 1.4.1 (WASM mixnet client in a worker: send/receive messages to a Nym address), @nymproject/mix-fetch 2.1.1 (HTTP only); Rust nym-client daemon with a WebSocket API; Rust SDK with streams',
      installableHere: 'no',
      offlineTestable: 'no',
      implementPath: 'a libp2p transport that frames a stream into mixnet messages (sequence numbers, acks, SURB replies) to a Nym address, over the Node WASM client or a nym-client WebSocket; tested against a local mixnet of nym-node builds once those can be installed',
      docs: '#nym'
    }
  },
  {
    name: 'veilid',
    description: 'Veilid private routes',
    addressProtocols: [],
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    reason: 'not implemented: veilid-server is on neither npm nor Debian (only Veilid\'s own apt repository), and its API carries messages (app_call), not streams: a stream layer and a test network are missing',
    research: {
      forNode: 'nothing on npm (veilid-wasm is built from source); veilid-server daemon with a JSON API on a local TCP port (used by the Python veilid package); private routes carry app_message/app_call messages',
      installableHere: 'no',
      offlineTestable: 'unknown',
      implementPath: 'a transport that speaks veilid-server\'s JSON API, allocates a private route per share (the route blob goes in the connect string), and carries a reliable stream over app_call; test on a private network (own network key and bootstrap) of veilid-server processes on loopback',
      docs: '#veilid'
    }
  },
  {
    name: 'freenet',
    description: 'Freenet (Hyphanet, and the new Freenet core)',
    addressProtocols: [],
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    reason: 'not implemented: Hyphanet (Java, FCP on port 9481) and the new Freenet core (Rust, WebSocket API) are content stores, not stream networks, and neither installs from npm or Debian',
    research: {
      forNode: 'Hyphanet: the fred node (Java) speaks FCPv2, a text protocol on TCP 9481 (insert/fetch keys, plugin messages); new Freenet (formerly Locutus): the freenet node (Rust crate) with a WebSocket API for WASM contracts and delegates, @freenetorg/freenet-stdlib on npm for the client side',
      installableHere: 'no',
      offlineTestable: 'unknown',
      implementPath: 'only as a slow message channel: a mailbox contract (new Freenet) or SSK/USK updates (Hyphanet) carrying framed stream segments; latency of seconds to minutes per round trip makes interactive TCP impractical',
      docs: '#freenet'
    }
  },
  {
    name: 'zeronet',
    description: 'ZeroNet',
    addressProtocols: [],
    anonymity: { sharer: false, connector: false },
    latency: 'high',
    reason: 'not implemented: ZeroNet hosts signed static sites (Python, abandoned by its author; zeronet-conservancy fork barely maintained), has no stream API, and its anonymity is Tor\'s: use the tor backend',
    research: {
      forNode: 'nothing: a Python daemon serving sites on 127.0.0.1:43110, peers over TCP or Tor onion services; not on npm or Debian',
      installableHere: 'no',
      offlineTestable: 'no',
      implementPath: 'none planned: a tunnel over ZeroNet would be a tunnel over Tor with extra steps; the tor backend covers it',
      docs: '#zeronet'
    }
  },
  {
    name: 'zkn',
    description: 'ZKN (ZKNetwork, Katzenpost mixnet)',
    addressProtocols: [],
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    reason: 'not implemented: ZKNetwork runs on the Katzenpost mixnet (Go); its client daemon has thin clients for Go, Rust and Python only, and none of it installs from npm or Debian',
    research: {
      forNode: 'nothing on npm; the Katzenpost client daemon (kpclientd) exposes a thin-client protocol (CBOR over a TCP or Unix socket); messages and Pigeonhole streams, no TCP-like streams',
      installableHere: 'no',
      offlineTestable: 'unknown',
      implementPath: 'a Node thin client for kpclientd (CBOR framing) and a transport that carries a reliable stream over mixnet messages; test against Katzenpost\'s local test mixnet (its docker setup) built from source',
      docs: '#zkn'
    }
  },
  {
    name: 'anonet',
    description: 'anoNet (friend-to-friend VPN overlay, 21.0.0.0/8)',
    addressProtocols: [],
    anonymity: { sharer: false, connector: false },
    latency: 'internet',
    reason: 'not implemented: anoNet is an IP overlay (VPN links plus BGP), not an API; beam\'s direct TCP already works over it once the host has an anoNet address, but nothing limits beam to that interface yet',
    research: {
      forNode: 'nothing to call: a host joins with ordinary VPN software (OpenVPN, WireGuard, IPsec) and a BGP router (BIRD, FRR); programs just use its 21.0.0.0/8 addresses',
      installableHere: 'yes',
      offlineTestable: 'yes',
      implementPath: 'a thin backend over direct TCP that listens and announces only addresses inside the anoNet range (and no DHT/relays outside it); test with two network namespaces joined by a WireGuard or veth link using 21.x addresses',
      docs: '#anonet'
    }
  }
]

function toBackend (p: PlannedEntry): PlannedBackend {
  const availability: BackendAvailability = { status: 'not-implemented', reason: p.reason }
  return {
    name: p.name,
    description: p.description,
    role: 'both',
    addressProtocols: p.addressProtocols,
    anonymity: p.anonymity,
    latency: p.latency,
    available: async (options = {}) => {
      options.signal?.throwIfAborted()
      return availability
    },
    research: p.research
  }
}

/** Every planned network as a registered backend whose status is `not-implemented`. */
export const plannedBackends: PlannedBackend[] = PLANNED.map(toBackend)

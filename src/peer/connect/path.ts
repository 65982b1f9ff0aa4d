import { randomBytes } from 'node:crypto'
import { byteStream } from '@libp2p/utils'
import { circuitRelayAddressesLast, loopbackAddressLast, publicAddressesFirst } from '@libp2p/utils'
import type { AbortOptions, Address, Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { PING_PROTOCOL } from '../constants.ts'
import { describeBackendAddress } from '../../backends/index.ts'
import { isLimited } from './limits.ts'

/** How a connection reaches the peer, as reported in the `path` event. */
export type PathTransport = 'tcp' | 'quic' | 'webrtc' | 'relay' | 'tor' | 'ator' | 'i2p' | 'websockets' | 'memory' | 'other'

/** The path a tunnel's new streams take, as shown to the user. */
export interface PathInfo {
  /** True unless the bytes pass through a relay. */
  direct: boolean
  /** The transport of the connection. */
  transport: PathTransport
  /** The peer's address on this path (for a relayed path, the relay's circuit address). */
  remote: string
  /** Round-trip time of a ping on this connection, in ms, when measured. */
  rttMs?: number
  /**
   * For WebRTC: the ICE candidate pair in use. A `relay` candidate on either
   * side means a TURN server carries the bytes (then `direct` is false).
   */
  ice?: {
    /** Local candidate type: host, srflx, prflx or relay. */
    local: string
    /** Remote candidate type. */
    remote: string
    /** Remote candidate `address:port`. */
    remoteAddress: string
  }
}

/** Classify a multiaddr by the transport it names. */
export function transportOf (ma: Multiaddr): PathTransport {
  const names = ma.getComponents().map(c => c.name)
  // <relay>/p2p-circuit/webrtc: the relay only carried the signalling
  if (names.includes('webrtc') || names.includes('webrtc-direct')) return 'webrtc'
  if (names.includes('p2p-circuit')) return 'relay'
  // tor, ator, i2p: each backend names the transport of its own addresses
  const viaBackend = describeBackendAddress(ma)?.transport
  if (viaBackend != null) return viaBackend as PathTransport
  if (names.includes('quic-v1') || names.includes('quic')) return 'quic'
  if (names.includes('ws') || names.includes('wss') || names.includes('tls')) return 'websockets'
  if (names.includes('tcp')) return 'tcp'
  if (names.includes('memory')) return 'memory'
  return 'other'
}

/** The path one connection represents (without RTT). */
export function pathOf (conn: Connection): PathInfo {
  const transport = transportOf(conn.remoteAddr)
  const path: PathInfo = { direct: transport !== 'relay' && conn.limits == null, transport, remote: conn.remoteAddr.toString() }
  if (transport === 'webrtc') {
    const ice = selectedCandidates(conn)
    if (ice != null) {
      path.ice = ice
      if (ice.local === 'relay' || ice.remote === 'relay') path.direct = false
    }
  }
  return path
}

/** What {@link selectedCandidates} reads of a WebRTC connection's internals. */
interface WithPeerConnection {
  maConn?: { peerConnection?: { selectedCandidatePair?: () => { local?: { type?: string }, remote?: { type?: string, address?: string, port?: number } } | null } }
}

/**
 * The selected ICE candidate pair of a WebRTC connection (node-datachannel's
 * RTCPeerConnection extension), reached through libp2p's connection object,
 * which has no public accessor for it. Undefined when unavailable.
 */
export function selectedCandidates (conn: Connection): PathInfo['ice'] {
  try {
    const pair = (conn as unknown as WithPeerConnection).maConn?.peerConnection?.selectedCandidatePair?.()
    if (pair?.local?.type == null || pair.remote?.type == null) return undefined
    return { local: pair.local.type, remote: pair.remote.type, remoteAddress: `${pair.remote.address ?? ''}:${pair.remote.port ?? 0}` }
  } catch {
    return undefined
  }
}

/**
 * Preference among direct transports for carrying tunnels. TCP first: its
 * yamux streams have end-to-end flow control. QUIC second: in
 * @chainsafe/libp2p-quic 2.1.1 a paused stream keeps reading (sendPause is a
 * no-op), so a slow consumer is not pushed back (see docs/architecture.md).
 */
const TRANSPORT_RANK: Record<PathTransport, number> = {
  tcp: 0, websockets: 1, quic: 2, webrtc: 3, tor: 4, ator: 4, i2p: 5, memory: 6, other: 7, relay: 8
}

/** A WebRTC address signalled through a relay (`…/p2p-circuit/webrtc…`). */
function isWebrtcViaRelay (ma: Multiaddr): boolean {
  const names = ma.getComponents().map(c => c.name)
  return names.includes('p2p-circuit') && names.includes('webrtc')
}

/**
 * Order in which to dial a peer's addresses: public, direct, then by
 * transport rank; WebRTC-through-a-relay addresses last of all. libp2p dials
 * one peer's addresses one after another, taking every address it knows for
 * the peer, and a WebRTC attempt that cannot succeed (a symmetric NAT) takes
 * 15 s or more to give up: beam tries WebRTC itself once a relayed
 * connection exists (PathUpgrader.maybeUpgrade in upgrade.ts).
 */
export function compareAddresses (a: Address, b: Address): -1 | 0 | 1 {
  const wa = isWebrtcViaRelay(a.multiaddr) ? 1 : 0
  const wb = isWebrtcViaRelay(b.multiaddr) ? 1 : 0
  if (wa !== wb) return (wa - wb) as -1 | 1
  const r = publicAddressesFirst(a.multiaddr, b.multiaddr) ||
    circuitRelayAddressesLast(a.multiaddr, b.multiaddr) ||
    loopbackAddressLast(a.multiaddr, b.multiaddr)
  if (r !== 0) return r
  const ta = transportOf(a.multiaddr)
  const tb = transportOf(b.multiaddr)
  if (ta === 'relay' && tb === 'relay') {
    // libp2p tries one peer's relayed addresses one after another: TCP to the
    // relays first (a dead relay refuses TCP at once, while QUIC to it only
    // times out), so every relay's TCP address comes before any QUIC one
    return Math.sign(TRANSPORT_RANK[transportOf(relayOf(a.multiaddr))] - TRANSPORT_RANK[transportOf(relayOf(b.multiaddr))]) as -1 | 0 | 1
  }
  return Math.sign(TRANSPORT_RANK[ta] - TRANSPORT_RANK[tb]) as -1 | 0 | 1
}

/** The relay's own address of a circuit address (the part before /p2p-circuit). */
function relayOf (ma: Multiaddr): Multiaddr {
  return ma.decapsulate('/p2p-circuit')
}

/**
 * The connection new streams should use: open ones only, unlimited (direct)
 * before limited (relayed), then by transport rank, then the oldest, which has
 * proven itself longest.
 */
export function bestConnection (conns: Connection[]): Connection | undefined {
  return rankConnections(conns)[0]
}

/**
 * Whether opening a stream failed because a WebRTC connection has no data
 * channel left (libdatachannel caps one connection at about 1,024, counting
 * channels still closing), as opposed to the connection being broken.
 * Another connection to the same peer can carry the stream. libp2p's own
 * per-protocol stream limit (TooManyOutboundProtocolStreamsError) is not
 * one of these: it is the limit beam asked for.
 */
export function isStreamCapacityError (err: unknown): boolean {
  return err instanceof Error && /too many data ?channels/i.test(err.message)
}

/** Open connections, best first (see {@link bestConnection}). */
export function rankConnections (conns: Connection[]): Connection[] {
  return conns.filter(c => c.status === 'open').sort(compareConnections)
}

/**
 * The open connections that may carry tunnel streams, best first: every
 * one but those with limits. A relay that limits its connections (the
 * circuit-relay-v2 defaults of public libp2p nodes: 128 KiB, 2 min) cuts a
 * tunnel after a few dozen KiB: such a connection carries signalling (pings,
 * the probe, WebRTC SDP) and is never chosen for a tunnel, however the
 * others rank.
 */
export function tunnelConnections (conns: Connection[]): Connection[] {
  return rankConnections(conns.filter(c => !isLimited(c)))
}

/** The connection a new tunnel stream should take (see {@link tunnelConnections}), or undefined when none may carry one. */
export function bestTunnelConnection (conns: Connection[]): Connection | undefined {
  return tunnelConnections(conns)[0]
}

function compareConnections (a: Connection, b: Connection): number {
  const la = a.limits == null ? 0 : 1
  const lb = b.limits == null ? 0 : 1
  if (la !== lb) return la - lb
  const ta = TRANSPORT_RANK[transportOf(a.remoteAddr)]
  const tb = TRANSPORT_RANK[transportOf(b.remoteAddr)]
  if (ta !== tb) return ta - tb
  return a.timeline.open - b.timeline.open
}

const PING_SIZE = 32

/**
 * One ping on this exact connection: proves it carries streams and measures
 * its round trip. Rejects on timeout or abort.
 */
export async function pingConnection (conn: Connection, options: AbortOptions = {}): Promise<number> {
  const stream = await conn.newStream(PING_PROTOCOL, { ...options, runOnLimitedConnection: true })
  try {
    const bs = byteStream(stream)
    const data = new Uint8Array(randomBytes(PING_SIZE))
    const start = performance.now()
    await bs.write(data, options)
    const echo = await bs.read({ ...options, bytes: PING_SIZE })
    const rtt = performance.now() - start
    if (!Buffer.from(echo.subarray()).equals(data)) throw new Error('ping answer does not match')
    await stream.close(options).catch(() => {})
    return Math.round(rtt * 100) / 100
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

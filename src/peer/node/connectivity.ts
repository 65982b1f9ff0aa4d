import type { Connection } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import { bestConnection, pathOf } from '../connect/path.ts'
import type { PathTransport } from '../connect/path.ts'

/**
 * Node-level connectivity, derived from libp2p's connection and
 * self-address events: which peers are connected and over what path, which
 * relays hold a reservation for this node, and which addresses it can be
 * dialled on. Emits only changes.
 */

/** A connected peer and the path its best connection takes. */
export interface PeerPathEvent {
  /** The remote peer. */
  peerId: string
  /** False when the bytes pass through a relay (or a TURN server). */
  direct: boolean
  /** The transport of the best connection. */
  transport: PathTransport
  /** The peer's address on that connection. */
  remote: string
}

/** A relay reservation held (or lost) by this node. */
export interface RelayEvent {
  /** The relay's peer id (one reservation, however many addresses the relay has). */
  relay: string
  /** This node's relayed addresses through that relay (`<relay address>/p2p/<relay id>/p2p-circuit`). */
  addresses: string[]
}

/** The addresses other peers can dial this node on, after a change. */
export interface AddressesEvent {
  /** Every dialable address now (as `BeamNode.getMultiaddrs()`). */
  multiaddrs: string[]
}

/** What the monitor reports to its owner. */
export interface ConnectivitySink {
  /** First connection to a peer. */
  connect: (e: PeerPathEvent) => void
  /** Last connection to a peer closed (the path is the last one it used). */
  disconnect: (e: PeerPathEvent) => void
  /** The best connection to a connected peer changed. */
  path: (e: PeerPathEvent) => void
  /** A reservation on a new relay appeared among this node's addresses. */
  reserved: (e: RelayEvent) => void
  /** The relayed addresses through a relay disappeared. */
  lost: (e: RelayEvent) => void
  /** The dialable address set changed. */
  addresses: (e: AddressesEvent) => void
}

function summary (conn: Connection): PeerPathEvent {
  const p = pathOf(conn)
  return { peerId: conn.remotePeer.toString(), direct: p.direct, transport: p.transport, remote: p.remote }
}

const same = (a: PeerPathEvent, b: PeerPathEvent): boolean => a.remote === b.remote && a.direct === b.direct && a.transport === b.transport

/** The relay part of a circuit address: everything before `/p2p-circuit`. */
export function relayOfCircuit (ma: Multiaddr): string | undefined {
  const s = ma.toString()
  const i = s.indexOf('/p2p-circuit')
  return i > 0 ? s.slice(0, i) : undefined
}

/** The relay's peer id of a circuit address (the last `/p2p/` before `/p2p-circuit`). */
export function relayIdOfCircuit (ma: Multiaddr): string | undefined {
  const parts = ma.getComponents()
  const at = parts.findIndex(c => c.name === 'p2p-circuit')
  if (at < 0) return undefined
  return parts.slice(0, at).findLast(c => c.name === 'p2p')?.value
}

/** Relayed addresses grouped by the relay's peer id. */
export function relaysOf (addrs: Multiaddr[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const ma of addrs) {
    const relay = relayIdOfCircuit(ma)
    if (relay == null) continue
    out.set(relay, [...(out.get(relay) ?? []), ma.toString()])
  }
  return out
}

/**
 * Follows libp2p's `connection:open`, `connection:close` and
 * `self:peer:update` events and reports changes to a {@link ConnectivitySink}.
 * Attach it before libp2p starts, so that nothing is missed.
 */
export class ConnectivityMonitor {
  private readonly libp2p: Libp2p
  private readonly addrs: () => Multiaddr[]
  private readonly sink: ConnectivitySink
  private readonly peers = new Map<string, PeerPathEvent>()
  private relays = new Map<string, string[]>()
  private lastAddrs = ''
  private readonly onOpen = (evt: CustomEvent<Connection>): void => { this.refreshPeer(evt.detail.remotePeer.toString()) }
  private readonly onClose = (evt: CustomEvent<Connection>): void => { this.refreshPeer(evt.detail.remotePeer.toString(), evt.detail) }
  private readonly onSelf = (): void => { this.refreshAddresses() }

  /** `addrs` gives the node's dialable addresses (BeamNode.getMultiaddrs). */
  constructor (libp2p: Libp2p, addrs: () => Multiaddr[], sink: ConnectivitySink) {
    this.libp2p = libp2p
    this.addrs = addrs
    this.sink = sink
    libp2p.addEventListener('connection:open', this.onOpen)
    libp2p.addEventListener('connection:close', this.onClose)
    libp2p.addEventListener('self:peer:update', this.onSelf)
  }

  /** Relays holding a reservation for this node now, with the addresses through each. */
  reservedRelays (): Map<string, string[]> { return new Map(this.relays) }

  /** Stop following libp2p's events. */
  detach (): void {
    this.libp2p.removeEventListener('connection:open', this.onOpen)
    this.libp2p.removeEventListener('connection:close', this.onClose)
    this.libp2p.removeEventListener('self:peer:update', this.onSelf)
  }

  private refreshPeer (id: string, closed?: Connection): void {
    const conns = this.libp2p.getConnections().filter(c => c.remotePeer.toString() === id && c !== closed)
    const best = bestConnection(conns)
    const before = this.peers.get(id)
    if (best == null) {
      if (before != null) {
        this.peers.delete(id)
        this.sink.disconnect(before)
      }
      return
    }
    const now = summary(best)
    this.peers.set(id, now)
    if (before == null) this.sink.connect(now)
    else if (!same(before, now)) this.sink.path(now)
  }

  /** Compare the node's addresses and relays with the last seen; report changes. */
  refreshAddresses (): void {
    const addrs = this.addrs()
    const key = addrs.map(a => a.toString()).sort().join(' ')
    if (key === this.lastAddrs) return
    this.lastAddrs = key
    const relays = relaysOf(addrs)
    for (const [relay, list] of this.relays) if (!relays.has(relay)) this.sink.lost({ relay, addresses: list })
    for (const [relay, list] of relays) if (!this.relays.has(relay)) this.sink.reserved({ relay, addresses: list })
    this.relays = relays
    this.sink.addresses({ multiaddrs: addrs.map(a => a.toString()) })
  }
}

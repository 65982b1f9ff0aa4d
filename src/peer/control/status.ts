import type { BeamNode, NodeStatus, RelayStats } from '../node/index.ts'
import type { Reachability } from '../node/index.ts'
import type { Share } from '../share/index.ts'
import type { ConnectTunnel, PathInfo } from '../connect/index.ts'
import { hostPort } from '../../tunnel/index.ts'
import { VisitorStats } from './visitors.ts'
import type { GatewayStatus, VisitorBatch } from './visitors.ts'

/** The path a tunnel's bytes take now. */
export interface TunnelPath {
  /** False when the bytes pass through a relay (a circuit relay or a TURN server). */
  direct: boolean
  /** tcp, quic, webrtc, websockets, relay, or a backend's (tor, i2p, …). */
  transport: string
  /** The peer's address on this path. */
  remote: string
  /** Round-trip time of the last ping, in ms, or null when not measured. */
  rttMs: number | null
}

/**
 * One tunnel of a process: on a share, one connecting peer; on a connect,
 * the share it reaches. Byte counts cover finished and open connections;
 * `sent` is what this process sent to the peer.
 */
export interface TunnelSummary {
  /** Which side this process is. */
  role: 'share' | 'connect'
  /** The other side's peer id. */
  peer: string
  /** The shared port (on a connect: the port asked for, null for the share's first). */
  port: number | null
  /** On a connect: where local clients connect (`host:port`, `unix:PATH`, or `stdio` for a tunnel on standard input and output); null on a share. */
  local: string | null
  /** The path now, or null when there is no connection to the peer. */
  path: TunnelPath | null
  /** Connections open now. */
  open: number
  /** Connections since the start. */
  total: number
  /** Bytes sent to the peer. */
  sent: number
  /** Bytes received from the peer. */
  received: number
  /** Refusals: on a share, requests of this peer it refused; on a connect, refusals by the share. */
  refused: number
  /** Connections that could not be joined (unreachable, service down, overloaded, …). */
  failed: number
  /** When a connection last opened or closed (ISO 8601), or null. */
  lastActivity: string | null
}

/** What `beam status` shows of one process. */
export interface ProcessStatus {
  /** The process id. */
  pid: number
  /** The command that runs: share, connect, relay or up. */
  command: string
  /** What the node does: share, connect or relay. */
  role: 'share' | 'connect' | 'relay'
  /** Its name (`beam up NAME`, or the first `--name`), or null. */
  name: string | null
  /** The node's peer id. */
  peerId: string
  /** When it started (ISO 8601). */
  startedAt: string
  /** Seconds since it started. */
  uptimeSeconds: number
  /** A share's access mode (secret, public, allow), else null. */
  access: string | null
  /** How far the node can be reached from outside its network. */
  reachability: Reachability
  /** A share's ports; a connect's remote port (empty for the share's first). */
  ports: number[]
  /** Open libp2p connections. */
  connections: number
  /** The tunnels, as {@link TunnelSummary}. */
  tunnels: TunnelSummary[]
  /** A relay's counters (reservations, circuits, bytes relayed, refusals), else null. */
  relay: RelayStats | null
  /** The URL of the process's dashboard, or null (none yet). */
  dashboard: string | null
  /** The log file, or null. */
  logFile: string | null
  /** A share served through a gateway: its URL there and the visitors the gateway reported; else null. */
  gateway: GatewayStatus | null
}

/** Fixed facts of a process, given by its owner. */
export interface ProcessInfo {
  /** The process id. */
  pid: number
  /** The command that runs. */
  command: string
  /** What the node does. */
  role: ProcessStatus['role']
  /** Its name. @default null */
  name?: string | null
  /** A share's access mode. @default null */
  access?: string | null
  /** The log file. @default null */
  logFile?: string | null
  /** The dashboard URL. @default null */
  dashboard?: string | null
}

/** Options of a {@link StatusTracker}. */
export interface StatusTrackerInit extends ProcessInfo {
  /** The node (`relayStats` is read when the role is relay). */
  node: Pick<BeamNode, 'status'> & Partial<Pick<BeamNode, 'relayStats'>>
  /** Peers a share keeps a tunnel entry for at most; the idle ones seen longest ago go first. @default 256 */
  maxPeers?: number
  /** The clock. @default Date.now */
  now?: () => number
}

/** {@link StatusTrackerInit.maxPeers}. */
export const DEFAULT_STATUS_PEERS = 256

interface Counters {
  role: 'share' | 'connect'
  peer: string
  port: number | null
  open: number
  total: number
  /** Bytes of finished connections (open ones are read live). */
  sent: number
  received: number
  refused: number
  failed: number
  last: number | null
}

/**
 * Keeps what `beam status` shows of a process: it listens to the share's or
 * the connect tunnel's events and reads the node for the rest when asked.
 */
export class StatusTracker {
  private readonly init: StatusTrackerInit
  private readonly started: number
  private readonly now: () => number
  private readonly maxPeers: number
  private readonly peers = new Map<string, Counters>()
  private share: Share | undefined
  private connect: ConnectTunnel | undefined
  private gateway: { peerId: string, url: string, state: GatewayStatus['state'], visitors: VisitorStats } | undefined

  constructor (init: StatusTrackerInit) {
    this.init = { ...init }
    this.now = init.now ?? Date.now
    this.started = this.now()
    this.maxPeers = init.maxPeers ?? DEFAULT_STATUS_PEERS
  }

  /** Set the dashboard URL that {@link snapshot} shows (it is known once the dashboard listens). */
  setDashboard (url: string | null): void {
    this.init.dashboard = url
  }

  /** Count a share's tunnels, by connecting peer. */
  watchShare (share: Share): void {
    this.share = share
    share.on('tunnel:open', e => { const c = this.entry('share', e.remotePeer, e.port); c.open++; c.total++; c.port = e.port; c.last = this.now() })
    share.on('tunnel:close', e => { const c = this.entry('share', e.remotePeer, e.port); c.open = Math.max(0, c.open - 1); c.sent += e.sent; c.received += e.received; c.last = this.now() })
    share.on('refused', e => { this.entry('share', e.remotePeer, null).refused++ })
    share.on('service:unavailable', e => { this.entry('share', e.remotePeer, e.port).failed++ })
  }

  /** Count a connect tunnel's connections. */
  watchConnect (tunnel: ConnectTunnel): void {
    this.connect = tunnel
    const peer = tunnel.peerId.toString()
    const port = tunnel.remotePort === 0 ? null : tunnel.remotePort
    const c = this.entry('connect', peer, port)
    tunnel.on('tunnel:open', () => { c.open++; c.total++; c.last = this.now() })
    tunnel.on('tunnel:close', e => { c.open = Math.max(0, c.open - 1); c.sent += e.sent; c.received += e.received; c.last = this.now() })
    tunnel.on('tunnel:failed', e => { if (e.error.name === 'TunnelRefusedError') c.refused++; else c.failed++ })
  }

  /** A share's gateway registration (made again after a loss): its URL there. */
  gatewayRegistered (peerId: string, url: string): void {
    if (this.gateway?.peerId !== peerId) this.gateway = { peerId, url, state: 'registered', visitors: new VisitorStats() }
    this.gateway.url = url
    this.gateway.state = 'registered'
  }

  /** The gateway registration was lost (it is being made again). */
  gatewayLost (): void {
    if (this.gateway != null) this.gateway.state = 'lost'
  }

  /** A batch of visitor requests the gateway reported. */
  gatewayVisitors (batch: VisitorBatch): void {
    this.gateway?.visitors.add(batch, this.now())
  }

  /** The process's status now. */
  snapshot (): ProcessStatus {
    const node = this.init.node.status()
    const now = this.now()
    const live = new Map<string, { sent: number, received: number }>()
    const add = (key: string, sent: number, received: number): void => {
      const l = live.get(key) ?? { sent: 0, received: 0 }
      l.sent += sent
      l.received += received
      live.set(key, l)
    }
    for (const t of this.share?.liveTunnels() ?? []) add(`share ${t.remotePeer}`, t.sent, t.received)
    if (this.connect != null) for (const t of this.connect.liveTunnels()) add(`connect ${this.connect.peerId.toString()}`, t.sent, t.received)
    const tunnels: TunnelSummary[] = [...this.peers.entries()].map(([key, c]) => {
      const l = live.get(key)
      return {
        role: c.role,
        peer: c.peer,
        port: c.port,
        local: c.role === 'connect' && this.connect != null ? localOf(this.connect) : null,
        path: c.role === 'connect' ? fromPathInfo(this.connect?.path) : pathOfPeer(node, c.peer),
        open: c.open,
        total: c.total,
        sent: c.sent + (l?.sent ?? 0),
        received: c.received + (l?.received ?? 0),
        refused: c.refused,
        failed: c.failed,
        lastActivity: c.last != null ? new Date(c.last).toISOString() : null
      }
    })
    const ports = this.share != null
      ? this.share.services.map(s => s.port)
      : this.connect != null && this.connect.remotePort !== 0 ? [this.connect.remotePort] : []
    return {
      pid: this.init.pid,
      command: this.init.command,
      role: this.init.role,
      name: this.init.name ?? null,
      peerId: node.peerId,
      startedAt: new Date(this.started).toISOString(),
      uptimeSeconds: Math.max(0, Math.round((now - this.started) / 1000)),
      access: this.init.access ?? null,
      reachability: node.reachability,
      ports,
      connections: node.connections.length,
      tunnels,
      relay: this.init.role === 'relay' ? this.init.node.relayStats?.() ?? null : null,
      dashboard: this.init.dashboard ?? null,
      logFile: this.init.logFile ?? null,
      gateway: this.gateway != null ? { peerId: this.gateway.peerId, url: this.gateway.url, state: this.gateway.state, ...this.gateway.visitors.summary() } : null
    }
  }

  private entry (role: 'share' | 'connect', peer: string, port: number | null): Counters {
    const key = `${role} ${peer}`
    let c = this.peers.get(key)
    if (c != null) {
      // most recently used last: the first idle entry is the one to drop
      this.peers.delete(key)
      this.peers.set(key, c)
      return c
    }
    c = { role, peer, port, open: 0, total: 0, sent: 0, received: 0, refused: 0, failed: 0, last: null }
    this.peers.set(key, c)
    if (this.peers.size > this.maxPeers) {
      for (const [k, old] of this.peers) {
        if (old.open === 0 && old !== c) { this.peers.delete(k); break }
      }
    }
    return c
  }
}

/** Where a connect tunnel's local clients connect. */
function localOf (t: ConnectTunnel): string {
  if (t.socketPath != null) return `unix:${t.socketPath}`
  return t.port === 0 ? 'stdio' : hostPort(t.host, t.port)
}

function fromPathInfo (p: PathInfo | undefined): TunnelPath | null {
  return p == null ? null : { direct: p.direct, transport: p.transport, remote: p.remote, rttMs: p.rttMs ?? null }
}

/** A share's view of a peer's path: its best open connection (direct first). */
function pathOfPeer (node: NodeStatus, peer: string): TunnelPath | null {
  const conns = node.connections.filter(c => c.peerId === peer)
  const best = conns.find(c => c.direct) ?? conns[0]
  return best == null ? null : { direct: best.direct, transport: best.transport, remote: best.remote, rttMs: null }
}

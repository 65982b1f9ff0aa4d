/**
 * The public internet in a box (issue 20): stock js-libp2p nodes
 * (stock-node.ts: Kad-DHT server on /ipfs/kad/1.0.0, circuit-relay-v2 server
 * with the library's default limits, identify, AutoNAT, ping) on public lab
 * hosts, connected to each other, and coturn as the public STUN server.
 * Beam processes get these as their only bootstrap nodes (`net()`).
 */
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Lab } from './netlab.ts'
import { PUBLIC_NET } from './netlab.ts'
import { STOCK_NODE } from './stock-node.ts'
import { startStun } from './turn.ts'
import type { LabTurn } from './turn.ts'
import { JsonLines } from './udp-reflector.ts'
import type { JsonLine } from './udp-reflector.ts'
import { LAB_PUBLIC_CIDRS_ENV } from './lab-public-cidrs.ts'

/** Loaded before the stock node (`node --import`): the lab's public range counts as public, as for beam processes. */
const HOOK = fileURLToPath(new URL('./lab-public-cidrs-hook.ts', import.meta.url))

export interface StockNode {
  host: string
  ip: string
  peerId: string
  /** its TCP address with /p2p/ */
  addr: string
  lines: JsonLines
  child: ChildProcess
}

export interface StockStatus {
  connections: Array<{ peer: string, remote: string, limited: boolean }>
  reservations: string[]
  routingTable: number
}

export interface PublicNet {
  nodes: StockNode[]
  stun: LabTurn
  /** IPs of the stock nodes (what a NAT router's conntrack shows as the limited relays' side) */
  ips: string[]
  /**
   * Network flags for a beam process: the stock nodes as its only bootstrap
   * nodes, the lab's STUN server, never the shipped list.
   * `nodes` picks which stock nodes (indexes), default all.
   */
  net: (nodes?: number[]) => string[]
  /** Ask a stock node for its connections, relay reservations and routing-table size. */
  status: (i: number) => Promise<StockStatus>
  stop: () => Promise<void>
}

/** Start one stock node in `host`, dialing `peers`; resolves once it has dialed them. */
export async function startStockNode (lab: Lab, host: string, peers: string[] = []): Promise<StockNode> {
  const h = lab.hosts[host]
  if (h == null) throw new Error(`no lab host ${host}`)
  if (h.nat != null) throw new Error(`stock node host ${host} must be public`)
  const child = lab.spawn(host, [process.execPath, `--import=${HOOK}`, STOCK_NODE, h.ip, ...peers], {
    env: { [LAB_PUBLIC_CIDRS_ENV]: `${PUBLIC_NET}.0/24`, ...(process.env.LAB_STOCK_DEBUG != null ? { DEBUG: 'libp2p:*,-libp2p:*:trace' } : {}) },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const lines = new JsonLines(child)
  const ready = await lines.waitFor(l => l.event === 'ready', 20_000)
  const joined = await lines.waitFor(l => l.event === 'joined', 20_000)
  const failed = joined.failed as Array<{ addr: string, error: string }>
  if (failed.length > 0) throw new Error(`stock node on ${host} could not dial: ${JSON.stringify(failed)}`)
  const peerId = String(ready.peerId)
  const addr = (ready.multiaddrs as string[]).find(a => a.includes('/tcp/')) ?? `/ip4/${h.ip}/tcp/4001/p2p/${peerId}`
  return { host, ip: h.ip, peerId, addr, lines, child }
}

/**
 * Stock nodes on `hosts` (public lab hosts; each dials the ones before it, so
 * all are connected) and a STUN-only coturn on `stunHost` (port 3478).
 */
export async function startPublicNet (lab: Lab, opts: { hosts: string[], stunHost: string }): Promise<PublicNet> {
  const nodes: StockNode[] = []
  for (const host of opts.hosts) nodes.push(await startStockNode(lab, host, nodes.map(n => n.addr)))
  const stun = await startStun(lab, opts.stunHost)
  return {
    nodes,
    stun,
    ips: nodes.map(n => n.ip),
    net: (which?: number[]) => {
      const use = (which ?? nodes.map((_, i) => i)).map(i => nodes[i]).filter((n): n is StockNode => n != null)
      return ['--no-default-bootstrap', ...use.flatMap(n => ['--bootstrap', n.addr]), '--ice-server', stun.url]
    },
    status: async (i: number) => {
      const n = nodes[i]
      if (n == null) throw new Error(`no stock node ${i}`)
      const from = n.lines.lines.length
      n.child.stdin?.write('status\n')
      const s: JsonLine = await n.lines.waitFor(l => l.event === 'status', 5000, from)
      return { connections: s.connections as StockStatus['connections'], reservations: s.reservations as string[], routingTable: Number(s.routingTable) }
    },
    stop: async () => {
      for (const n of nodes) if (n.child.exitCode == null) n.child.kill('SIGTERM')
      await stun.stop()
    }
  }
}

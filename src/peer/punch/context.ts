import { isIPv4 } from 'node:net'
import { PunchNat } from '../../signaling/index.ts'
import { probeNat } from '../diagnostics/index.ts'
import type { NatReport } from '../diagnostics/index.ts'
import { NAT_KIND_TTL } from './constants.ts'
import { PunchedPorts } from './port-slot.ts'
import type { Endpoint } from './socket.ts'

/** This node's NAT kind for a punch, and the STUN server the punch asks. */
export interface OwnNat {
  nat: PunchNat
  stun: Endpoint
}

/** The NAT kind a STUN report shows (none/endpoint-independent → EASY, symmetric → HARD), and an IPv4 server that answered. */
export function ownNatOf (report: NatReport): OwnNat | undefined {
  const nat = report.mapping === 'none' || report.mapping === 'endpoint-independent'
    ? PunchNat.EASY
    : report.mapping === 'symmetric' ? PunchNat.HARD : PunchNat.UNKNOWN
  for (const a of report.answers) {
    if (a.mapped == null) continue
    const at = a.server.lastIndexOf(':')
    const ip = a.address ?? a.server.slice(0, at)
    const port = Number(a.server.slice(at + 1))
    if (isIPv4(ip) && Number.isInteger(port)) return { nat, stun: { ip, port } }
  }
  return undefined
}

/** Options of a {@link PunchContext}. */
export interface PunchContextInit {
  /** `host:port` STUN servers (the node's `stun:` ICE servers). */
  servers: string[]
  /** The node's slot for a punched port (shared with its WebRTC transport). */
  ports: PunchedPorts
  /** How long a classification is reused, in ms. @default NAT_KIND_TTL */
  ttl?: number
}

/**
 * What a node's share and connect tunnels need to punch: its own NAT kind
 * (asked of its STUN servers, kept for a while) and the punched-port slot its
 * WebRTC transport reads.
 */
export class PunchContext {
  readonly ports: PunchedPorts
  private readonly servers: string[]
  private readonly ttl: number
  private cached: { at: number, value: Promise<OwnNat | undefined> } | undefined

  constructor (init: PunchContextInit) {
    this.servers = init.servers
    this.ports = init.ports
    this.ttl = init.ttl ?? NAT_KIND_TTL
  }

  /** Whether a punch can be tried at all (two STUN servers are needed to tell the NAT kind). */
  get possible (): boolean {
    return this.servers.length >= 2
  }

  /** This node's NAT kind and a STUN server, or undefined (no two servers, or none answered). */
  async ownNat (signal?: AbortSignal): Promise<OwnNat | undefined> {
    if (!this.possible) return undefined
    const now = performance.now()
    if (this.cached == null || now - this.cached.at > this.ttl) {
      const value = probeNat({ servers: this.servers, timeout: 1000, attempts: 2, ...(signal != null ? { signal } : {}) }).then(ownNatOf, () => undefined)
      this.cached = { at: now, value }
    }
    return await this.cached.value
  }
}

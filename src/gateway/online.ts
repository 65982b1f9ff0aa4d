import { createHash, timingSafeEqual } from 'node:crypto'
import type { Duplex } from 'node:stream'
import type { PeerId } from '@libp2p/interface'
import type { ConnectTunnel } from '../peer/index.ts'
import type { PageKind } from './pages.ts'
import type { UpstreamPool } from './upstream.ts'
import { VISITOR_LATENCY_BUCKETS } from './protocol.ts'
import type { VisitorAuthDigest, VisitorReport } from './protocol.ts'

/**
 * What the gateway keeps of a share connected to it now, and the checks a
 * visitor's request to it goes through (its Authorization header; the page a
 * failed tunnel gets).
 */

/** A share connected to the gateway now. */
export interface OnlineShare {
  peerId: PeerId
  /** The peer id as text, made once (the key of the gateway's maps and of every request event). */
  peer: string
  label: string
  name: string | undefined
  auth: VisitorAuthDigest | undefined
  stream: Duplex
  tunnel: Promise<ConnectTunnel> | undefined
  /** Keep-alive tunnel streams for plain requests (made on the first). */
  upstream: UpstreamPool | undefined
  /** Visitor requests since the last report, when the share asked for reports. */
  report: VisitorReport | undefined
}

/** A visitor report with nothing counted yet. */
export function emptyReport (): VisitorReport {
  return { t: 'visitors', v: 1, requests: 0, classes: [0, 0, 0, 0, 0], le: VISITOR_LATENCY_BUCKETS, counts: new Array<number>(VISITOR_LATENCY_BUCKETS.length + 1).fill(0), sumMs: 0, maxMs: 0, bytesIn: 0, bytesOut: 0 }
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

function sameDigest (hex: string | undefined, value: string): boolean {
  if (hex == null) return false
  const want = Buffer.from(hex, 'hex')
  const got = sha256(value)
  return want.length === got.length && timingSafeEqual(want, got)
}

/** Whether the visitor's Authorization header satisfies what the share asked for. */
export function authorized (auth: VisitorAuthDigest | undefined, header: string | undefined): boolean {
  if (auth == null || (auth.basic == null && auth.token == null)) return true
  if (header == null) return false
  const [scheme, value] = header.split(/\s+/, 2)
  if (scheme?.toLowerCase() === 'basic' && value != null) return sameDigest(auth.basic, Buffer.from(value, 'base64').toString('utf8'))
  if (scheme?.toLowerCase() === 'bearer' && value != null) return sameDigest(auth.token, value)
  return false
}

/** Which gateway page a failure to open a tunnel stream gets. */
export function pageOfError (err: unknown): PageKind {
  const name = err instanceof Error ? err.name : ''
  if (name === 'TunnelRefusedError') return 'refused'
  if (name === 'ServiceUnavailableError') return 'service-unavailable'
  if (name === 'BadResponseError') return 'bad-answer'
  if (name === 'ShareOverloadedError') return 'overloaded'
  if (name === 'TimeoutError' || name === 'AbortError') return 'timeout'
  return 'offline'
}

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { renderMetrics } from '../relay/index.ts'
import type { MetricSample } from '../relay/index.ts'
import type { GatewayRequestEvent } from './gateway.ts'
import type { PageKind } from './pages.ts'

/**
 * A gateway's Prometheus metrics, counted from its `request` events:
 * requests by status class, bytes each way, a latency histogram, and the
 * gateway's own answers by kind. No label names a share: the cardinality
 * stays fixed and the metrics leak no share's traffic.
 */

/** Upper bounds of the latency histogram, in seconds. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

const KINDS: PageKind[] = ['unknown-name', 'offline', 'refused', 'service-unavailable', 'bad-answer', 'limit', 'overloaded', 'timeout', 'bad-request', 'unauthorized']
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx']

/** Counters of a gateway's requests. */
export class GatewayMetrics {
  private readonly byClass = new Map<string, number>(CLASSES.map(c => [c, 0]))
  private readonly errors = new Map<string, number>(KINDS.map(k => [k, 0]))
  private bytesIn = 0
  private bytesOut = 0
  private readonly buckets = LATENCY_BUCKETS.map(() => 0)
  private count = 0
  private sum = 0

  /** Count one finished request. */
  observe (e: GatewayRequestEvent): void {
    const cls = `${Math.floor(e.status / 100)}xx`
    this.byClass.set(cls, (this.byClass.get(cls) ?? 0) + 1)
    if (e.kind !== 'share') this.errors.set(e.kind, (this.errors.get(e.kind) ?? 0) + 1)
    this.bytesIn += e.bytesIn
    this.bytesOut += e.bytesOut
    const s = e.ms / 1000
    for (const [i, le] of LATENCY_BUCKETS.entries()) if (s <= le) this.buckets[i] = (this.buckets[i] ?? 0) + 1
    this.count++
    this.sum += s
  }

  /** The metrics in the Prometheus text format, with `gauges` (state now) first. */
  render (gauges: MetricSample[]): string {
    const samples: MetricSample[] = [
      ...gauges,
      ...[...this.byClass].map(([code, value]) => ({ name: 'beam_gateway_requests_total', help: 'Visitor requests (WebSocket sessions count once), by status class', type: 'counter' as const, value, labels: { code } })),
      { name: 'beam_gateway_bytes_total', help: 'Body bytes carried, from visitors to shares (in) and back (out)', type: 'counter', value: this.bytesIn, labels: { direction: 'in' } },
      { name: 'beam_gateway_bytes_total', help: 'Body bytes carried, from visitors to shares (in) and back (out)', type: 'counter', value: this.bytesOut, labels: { direction: 'out' } },
      ...[...this.errors].map(([kind, value]) => ({ name: 'beam_gateway_errors_total', help: 'Requests the gateway answered itself, by kind (unknown-name, offline, refused, limit, …)', type: 'counter' as const, value, labels: { kind } }))
    ]
    let text = renderMetrics(samples)
    const h = 'beam_gateway_request_duration_seconds'
    text += `# HELP ${h} Time from a visitor's request to the end of its response (a WebSocket session: its whole life)\n# TYPE ${h} histogram\n`
    for (const [i, le] of LATENCY_BUCKETS.entries()) text += `${h}_bucket{le="${le}"} ${this.buckets[i] ?? 0}\n`
    text += `${h}_bucket{le="+Inf"} ${this.count}\n${h}_sum ${Math.round(this.sum * 1e6) / 1e6}\n${h}_count ${this.count}\n`
    return text
  }
}

/** A listening metrics endpoint. */
export interface GatewayMetricsServer {
  host: string
  port: number
  close: () => Promise<void>
}

/** Serve `GET /metrics` from `render()` on host:port; anything else is 404. */
export async function serveMetrics (host: string, port: number, render: () => string): Promise<GatewayMetricsServer> {
  const server: Server = process.getBuiltinModule('node:http').createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url === '/')) {
      const body = render()
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const a = server.address() as AddressInfo
  return { host: a.address, port: a.port, close: async () => { server.closeAllConnections(); await new Promise<void>(resolve => { server.close(() => { resolve() }) }) } }
}

import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One metric in the Prometheus text format. */
export interface MetricSample {
  name: string
  help: string
  type: 'gauge' | 'counter'
  value: number
}

export interface MetricsServer {
  host: string
  port: number
  close: () => Promise<void>
}

/** Render samples in the Prometheus text exposition format (0.0.4). */
export function renderMetrics (samples: MetricSample[]): string {
  return samples.map(s => `# HELP ${s.name} ${s.help}\n# TYPE ${s.name} ${s.type}\n${s.name} ${Number.isFinite(s.value) ? s.value : 0}\n`).join('')
}

/** Serve `GET /metrics` (Prometheus text) from `collect()`; anything else is 404. */
export async function startMetricsServer (host: string, port: number, collect: () => MetricSample[]): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url === '/')) {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      res.end(renderMetrics(collect()))
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: async () => { server.closeAllConnections(); await new Promise<void>(resolve => { server.close(() => { resolve() }) }) }
  }
}

import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One metric in the Prometheus text format. */
export interface MetricSample {
  name: string
  help: string
  type: 'gauge' | 'counter'
  value: number
  /** Label pairs; samples of one name with different labels form one family. */
  labels?: Record<string, string>
}

export interface MetricsServer {
  host: string
  port: number
  close: () => Promise<void>
}

function escapeLabel (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Render samples in the Prometheus text exposition format (0.0.4); HELP/TYPE once per name. */
export function renderMetrics (samples: MetricSample[]): string {
  const seen = new Set<string>()
  let out = ''
  for (const s of samples) {
    if (!seen.has(s.name)) {
      seen.add(s.name)
      out += `# HELP ${s.name} ${s.help}\n# TYPE ${s.name} ${s.type}\n`
    }
    const labels = Object.entries(s.labels ?? {})
    const lbl = labels.length > 0 ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : ''
    out += `${s.name}${lbl} ${Number.isFinite(s.value) ? s.value : 0}\n`
  }
  return out
}

/** Serve `GET /metrics` (Prometheus text) from `collect()`; anything else is 404. */
export async function startMetricsServer (host: string, port: number, collect: () => MetricSample[]): Promise<MetricsServer> {
  // imported here, not at the top: an ESM import of node:http makes Node load
  // its bundled undici (~20–30 ms), which only a relay with metrics needs
  const { createServer } = await import('node:http')
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

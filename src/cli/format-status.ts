import type { GatewayStatus, ProcessStatus, TunnelSummary } from '../peer/index.ts'

/** A byte count for people: 0 B, 999 B, 1.2 kB, 3.4 MB, … */
export function formatBytes (n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let u = -1
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++ }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u] ?? ''}`
}

/** An uptime for people: 42s, 5m 3s, 2h 10m, 3d 4h. */
export function formatUptime (seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m ${s}s`
  return `${s}s`
}

function describeTunnel (t: TunnelSummary): string {
  const path = t.path == null
    ? 'no connection'
    : `${t.path.direct ? 'direct' : 'relayed'} ${t.path.transport}${t.path.rttMs != null ? `, rtt ${t.path.rttMs} ms` : ''}`
  const where = t.role === 'connect' ? `${t.local ?? '?'} → ${t.peer}${t.port != null ? ` port ${t.port}` : ''}` : `${t.peer}${t.port != null ? ` → port ${t.port}` : ''}`
  const extra = [t.refused > 0 ? `${t.refused} refused` : '', t.failed > 0 ? `${t.failed} failed` : ''].filter(s => s !== '').join(', ')
  return `    ${where}\n      ${path}; ${t.open} open (${t.total} in all); sent ${formatBytes(t.sent)}, received ${formatBytes(t.received)}${extra !== '' ? `; ${extra}` : ''}`
}

function describeGateway (g: GatewayStatus): string[] {
  const c = g.statusClasses
  const classes = (['2xx', '3xx', '4xx', '5xx', '1xx'] as const).filter(k => c[k] > 0).map(k => `${c[k]} ${k}`).join(', ')
  return [
    `  web:       ${g.url}${g.state === 'lost' ? ' (registration lost: registering again)' : ''}`,
    `  visitors:  ${g.requests === 0 ? 'no requests yet' : `${g.requests} request(s) (${classes})`}${g.latency != null ? `; latency p50 ${g.latency.p50Ms} ms, p99 ${g.latency.p99Ms} ms, max ${g.latency.maxMs} ms` : ''}${g.requests > 0 ? `; in ${formatBytes(g.bytesIn)}, out ${formatBytes(g.bytesOut)}` : ''}`
  ]
}

/** `beam status` for people: a block per process. */
export function formatStatus (p: ProcessStatus): string {
  return [
    `pid ${p.pid}: beam ${p.command}${p.name != null ? ` ${p.name}` : ''}, up ${formatUptime(p.uptimeSeconds)}`,
    `  peer id:   ${p.peerId}`,
    ...(p.access != null ? [`  access:    ${p.access}`] : []),
    ...(p.ports.length > 0 ? [`  ports:     ${p.ports.join(', ')}`] : []),
    `  reachable: ${p.reachability}`,
    `  peers:     ${p.connections} connection(s)`,
    ...(p.logFile != null ? [`  log file:  ${p.logFile}`] : []),
    ...(p.dashboard != null ? [`  dashboard: ${p.dashboard}`] : []),
    ...(p.gateway != null ? describeGateway(p.gateway) : []),
    ...(p.relay != null ? [`  relay:     ${p.relay.reservations} reservation(s), ${p.relay.circuits} circuit(s) open, ${formatBytes(p.relay.bytesRelayed)} relayed`] : []),
    ...(p.role === 'relay' ? [] : [p.tunnels.length === 0 ? '  tunnels:   none yet' : '  tunnels:', ...p.tunnels.map(describeTunnel)])
  ].join('\n')
}

import { Command, Option } from 'commander'
import { createBeam, parsePeerId, DEFAULT_DHT_PROTOCOL } from '../../peer/index.ts'
import type { BeamNode } from '../../peer/index.ts'
import { startMetricsServer, startStunServer, DEFAULT_STUN_PORT } from '../../relay/index.ts'
import type { MetricSample, MetricsServer, StunServer } from '../../relay/index.ts'
import { addIdentityOptions, addOutputOptions, baseInit, createContext, parseListen, untilAborted } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { collect, parseBindAddress, parseBytes, parseCount, parseDuration, parsePort } from '../parse.ts'
import { stopWithin } from '../shutdown.ts'

/** Where a relay listens by default: every interface, TCP and QUIC, port 4001. */
export const DEFAULT_RELAY_LISTEN = [
  '/ip4/0.0.0.0/tcp/4001',
  '/ip4/0.0.0.0/udp/4001/quic-v1',
  '/ip4/0.0.0.0/tcp/4002/ws',
  '/ip6/::/tcp/4001',
  '/ip6/::/udp/4001/quic-v1',
  '/ip6/::/tcp/4002/ws'
]

interface RelayFlags extends CommonFlags {
  listen?: string[]
  announce?: string[]
  maxReservations: string
  maxCircuits: string
  maxCircuitsPerPeer: string
  maxDuration: string
  maxBytes: string
  allow?: string[]
  stunPort: string
  metrics?: string
}

export function relayCommand (io: CliIo): Command {
  const cmd = new Command('relay')
    .description('run a public relay node: circuit relay, STUN responder, bootstrap for other peers')
    .option('--listen <multiaddr>', `address to listen on, repeatable (default: ${DEFAULT_RELAY_LISTEN.join(' ')})`, collect)
    .option('--announce <multiaddr>', 'public address to announce (needed behind a cloud NAT or on 0.0.0.0), repeatable', collect)
    .option('--max-reservations <n>', 'peers that may hold a reservation at once', '1024')
    .option('--max-circuits <n>', 'relayed connections at once', '1024')
    .option('--max-circuits-per-peer <n>', 'relayed connections one peer may open at once', '64')
    .option('--max-duration <time>', 'cut a relayed connection after this long (0 = never), e.g. 30m', '0')
    .option('--max-bytes <size>', 'cut a relayed connection after this many bytes (0 = never), e.g. 1GiB', '0')
    .option('--allow <peer-id>', 'private relay: only these peers may reserve, repeatable', collect)
    .option('--stun-port <port>', `UDP port of the STUN responder (0 = off)`, String(DEFAULT_STUN_PORT))
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics')
    .addOption(new Option('--dht-protocol <id>', `Kademlia protocol id (default: ${DEFAULT_DHT_PROTOCOL}, the public libp2p DHT's)`).env('BEAM_DHT_PROTOCOL'))
    .option('--bootstrap <multiaddr>', 'other relays or DHT nodes to join, repeatable (env BEAM_BOOTSTRAP, comma-separated); bootstrap-nodes.json is not read', collect)
  addIdentityOptions(cmd)
  addOutputOptions(cmd)
  cmd.action(async (flags: RelayFlags) => { await runRelay(flags, io) })
  return cmd
}

const REFUSAL_REASONS = ['reservation_refused', 'resource_limit_exceeded', 'permission_denied', 'connection_failed', 'no_reservation', 'malformed_message', 'unexpected_message']

/** One sample per refusal reason (known reasons always present, at 0). */
function refusalSamples (refusals: Record<string, number>): MetricSample[] {
  const reasons = [...new Set([...REFUSAL_REASONS, ...Object.keys(refusals)])]
  return reasons.map(reason => ({ name: 'beam_relay_refusals_total', help: 'Reservation and connection requests the relay refused, by reason', type: 'counter' as const, value: refusals[reason] ?? 0, labels: { reason } }))
}

async function runRelay (flags: RelayFlags, io: CliIo): Promise<void> {
  const limits = {
    maxReservations: parseCount(flags.maxReservations, 'max reservations'),
    maxRelayedConnections: parseCount(flags.maxCircuits, 'max circuits'),
    maxCircuitsPerPeer: parseCount(flags.maxCircuitsPerPeer, 'max circuits per peer'),
    maxDurationMs: parseDuration(flags.maxDuration, 'max duration'),
    maxBytes: parseBytes(flags.maxBytes, 'max bytes')
  }
  const allow = (flags.allow ?? []).map(p => parsePeerId(p).toString())
  const stunPort = parsePort(flags.stunPort, 'STUN port', true)
  const metricsAt = flags.metrics != null ? parseBindAddress(flags.metrics, 'metrics') : undefined
  const listen = parseListen(flags.listen ?? DEFAULT_RELAY_LISTEN)
  const announce = parseListen(flags.announce ?? [])
  const ctx = createContext(flags, io)
  const init = await baseInit({ ...flags, defaultBootstrap: false }, io, ctx)

  let stunRequests = 0
  let stun: StunServer | undefined
  let metrics: MetricsServer | undefined
  const node: BeamNode = await createBeam({ ...init, listen, announce, relayServer: limits, relayAllow: allow, transports: { ...init.transports, webrtc: false } })
  try {
    if (stunPort !== 0) {
      stun = await startStunServer({ port: stunPort, onRequest: () => { stunRequests++ } })
    }
    const started = Date.now()
    if (metricsAt != null) {
      metrics = await startMetricsServer(metricsAt.host, metricsAt.port, () => {
        const s = node.relayStats()
        return [
          { name: 'beam_relay_reservations', help: 'Peers holding a reservation now', type: 'gauge', value: s.reservations },
          { name: 'beam_relay_circuits', help: 'Relayed connections open now', type: 'gauge', value: s.circuits },
          { name: 'beam_relay_connections', help: 'libp2p connections open now', type: 'gauge', value: s.connections },
          { name: 'beam_relay_bytes_relayed_total', help: 'Bytes forwarded between peers through relayed connections', type: 'counter', value: s.bytesRelayed },
          { name: 'beam_relay_reservations_accepted_total', help: 'Reservations granted (renewals included)', type: 'counter', value: s.reservationsAccepted },
          { name: 'beam_relay_circuits_accepted_total', help: 'Relayed connections set up', type: 'counter', value: s.circuitsAccepted },
          ...refusalSamples(s.refusals),
          { name: 'beam_relay_stun_requests_total', help: 'STUN binding requests answered', type: 'counter', value: stunRequests },
          { name: 'beam_relay_uptime_seconds', help: 'Seconds since the relay started', type: 'gauge', value: Math.round((Date.now() - started) / 1000) },
          { name: 'beam_relay_resident_memory_bytes', help: 'Resident set size of the relay process', type: 'gauge', value: process.memoryUsage().rss }
        ]
      })
    }
    const peerId = node.peerId.toString()
    const multiaddrs = node.getMultiaddrs().map(m => `${m.toString()}/p2p/${peerId}`)
    const entry = { multiaddr: multiaddrs.find(m => !m.startsWith('/ip4/127.') && !m.startsWith('/ip6/::1/')) ?? multiaddrs[0] ?? '', roles: ['bootstrap', 'relay'], ...(stun != null ? { stunPort: stun.port } : {}) }
    ctx.out.event('ready', { peerId, multiaddrs, stun: stun != null ? { port: stun.port } : null, metrics: metrics != null ? `http://${metrics.host}:${metrics.port}/metrics` : null, limits, bootstrapEntry: entry, dht: node.status().dht?.mode ?? null, runtime: { node: process.versions.node, flags: process.execArgv.filter(a => a.startsWith('--')) } })
    ctx.out.say([
      '',
      `beam relay: ${peerId}`,
      ...multiaddrs.map(m => `  ${m}`),
      `  limits:    ${limits.maxReservations} reservations, ${limits.maxRelayedConnections} circuits (${limits.maxCircuitsPerPeer} per peer), duration ${limits.maxDurationMs === 0 ? 'unlimited' : `${limits.maxDurationMs} ms`}, data ${limits.maxBytes === 0 ? 'unlimited' : `${limits.maxBytes} bytes`}${allow.length > 0 ? `, private (${allow.length} peers)` : ''}`,
      `  stun:      ${stun != null ? `udp port ${stun.port}` : 'off'}`,
      `  dht:       ${node.status().dht?.mode ?? 'off'}`,
      ...(metrics != null ? [`  metrics:   http://${metrics.host}:${metrics.port}/metrics`] : []),
      ...(announce.length === 0 ? ['  note: no --announce address; peers elsewhere need this relay\'s public address'] : []),
      '  entry for bootstrap-nodes.json:',
      JSON.stringify(entry)
    ].join('\n'))
    await untilAborted(io.signal)
    ctx.log.info(node.relayStats(), 'stopping relay')
  } finally {
    await metrics?.close()
    await stun?.close()
    await stopWithin(node, ctx.log)
  }
}

import { Command, Option } from 'commander'
import { createBeam, parsePeerId, DEFAULT_DHT_PROTOCOL } from '../../peer/index.ts'
import { hostPort } from '../../tunnel/index.ts'
import type { BeamNode } from '../../peer/index.ts'
import {
  startMetricsServer, startStunServer, DEFAULT_STUN_PORT, DEFAULT_MAX_RESERVATIONS_PER_IP, DEFAULT_MAX_RESERVATIONS_PER_SUBNET,
  DEFAULT_MAX_CIRCUITS_PER_IP, DEFAULT_MAX_CIRCUITS_PER_SUBNET, DEFAULT_RESERVATION_GRACE
} from '../../relay/index.ts'
import type { MetricSample, MetricsServer, StunServer } from '../../relay/index.ts'
import { addIdentityOptions, addLogFileOptions, addOutputOptions, createContext, parseListen, untilAborted } from '../context.ts'
import { openControl } from '../control.ts'
import type { ControlHandle } from '../control.ts'
import { nodeSettings, toBeamInit } from '../settings/index.ts'
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
  maxReservationsPerIp: string
  maxReservationsPerSubnet: string
  maxCircuitsPerIp: string
  maxCircuitsPerSubnet: string
  reservationGrace: string
  maxDuration: string
  maxBytes: string
  allow?: string[]
  stunPort: string
  metrics?: string
  advertise: boolean
}

export function relayCommand (io: CliIo): Command {
  const cmd = new Command('relay')
    .description('run a public relay node: circuit relay, STUN responder, bootstrap for other peers')
    .option('--listen <multiaddr>', `address to listen on, repeatable (default: ${DEFAULT_RELAY_LISTEN.join(' ')})`, collect)
    .option('--announce <multiaddr>', 'public address to announce (needed behind a cloud NAT or on 0.0.0.0), repeatable', collect)
    .option('--max-reservations <n>', 'peers that may hold a reservation at once', '1024')
    .option('--max-circuits <n>', 'relayed connections at once', '1024')
    .option('--max-circuits-per-peer <n>', 'relayed connections one peer may open at once', '64')
    .option('--max-reservations-per-ip <n>', 'reservations held through connections from one IP address (0 = no cap)', String(DEFAULT_MAX_RESERVATIONS_PER_IP))
    .option('--max-reservations-per-subnet <n>', 'reservations held from one IPv4 /24 or IPv6 /48 (0 = no cap)', String(DEFAULT_MAX_RESERVATIONS_PER_SUBNET))
    .option('--max-circuits-per-ip <n>', 'relayed connections opened from one IP address at once (0 = no cap)', String(DEFAULT_MAX_CIRCUITS_PER_IP))
    .option('--max-circuits-per-subnet <n>', 'relayed connections opened from one IPv4 /24 or IPv6 /48 at once (0 = no cap)', String(DEFAULT_MAX_CIRCUITS_PER_SUBNET))
    .option('--reservation-grace <time>', 'drop a reservation when its holder has been gone this long, e.g. 60s', `${DEFAULT_RESERVATION_GRACE / 1000}s`)
    .option('--max-duration <time>', 'cut a relayed connection after this long (0 = never), e.g. 30m', '0')
    .option('--max-bytes <size>', 'cut a relayed connection after this many bytes (0 = never), e.g. 1GiB', '0')
    .option('--allow <peer-id>', 'private relay: only these peers may reserve, repeatable', collect)
    .option('--stun-port <port>', `UDP port of the STUN responder (0 = off)`, String(DEFAULT_STUN_PORT))
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://HOST:PORT/metrics')
    .option('--no-advertise', 'do not announce this relay in the DHT (shares find it only through a list or --relay); a private relay (--allow) never announces itself')
    .addOption(new Option('--dht-protocol <id>', `Kademlia protocol id (default: ${DEFAULT_DHT_PROTOCOL}, the public libp2p DHT's)`).env('BEAM_DHT_PROTOCOL'))
    .option('--bootstrap <multiaddr>', 'other relays or DHT nodes to join, repeatable (env BEAM_BOOTSTRAP, comma-separated); bootstrap-nodes.json is not read', collect)
  addIdentityOptions(cmd)
  addOutputOptions(cmd)
  addLogFileOptions(cmd)
  cmd.action(async (flags: RelayFlags) => { await runRelay(flags, io) })
  return cmd
}

const REFUSAL_REASONS = ['reservation_refused', 'resource_limit_exceeded', 'permission_denied', 'connection_failed', 'no_reservation', 'malformed_message', 'unexpected_message']
const CAPS = ['reservations_per_ip', 'reservations_per_subnet', 'circuits_per_ip', 'circuits_per_subnet', 'circuits_per_peer']
const CUT_REASONS = ['data_limit', 'duration_limit']

/** One counter sample per label value (known values always present, at 0). */
/** The relay process's memory: resident, the JS heap, and memory outside it (Buffers, native state). */
function memorySamples (): MetricSample[] {
  const m = process.memoryUsage()
  return [
    { name: 'beam_relay_resident_memory_bytes', help: 'Resident set size of the relay process', type: 'gauge', value: m.rss },
    { name: 'beam_relay_heap_used_bytes', help: 'JavaScript heap in use (V8)', type: 'gauge', value: m.heapUsed },
    { name: 'beam_relay_external_memory_bytes', help: 'Memory outside the JavaScript heap held by JS objects (Buffers and ArrayBuffers included)', type: 'gauge', value: m.external }
  ]
}

function labelled (name: string, help: string, label: string, known: string[], values: Record<string, number>): MetricSample[] {
  const keys = [...new Set([...known, ...Object.keys(values)])]
  return keys.map(k => ({ name, help, type: 'counter' as const, value: values[k] ?? 0, labels: { [label]: k } }))
}

const cap = (n: number): string => n === 0 ? 'no cap' : String(n)

async function runRelay (flags: RelayFlags, io: CliIo): Promise<void> {
  const limits = {
    maxReservations: parseCount(flags.maxReservations, 'max reservations'),
    maxRelayedConnections: parseCount(flags.maxCircuits, 'max circuits'),
    maxCircuitsPerPeer: parseCount(flags.maxCircuitsPerPeer, 'max circuits per peer'),
    maxReservationsPerIp: parseCount(flags.maxReservationsPerIp, 'max reservations per IP', 0),
    maxReservationsPerSubnet: parseCount(flags.maxReservationsPerSubnet, 'max reservations per subnet', 0),
    maxCircuitsPerIp: parseCount(flags.maxCircuitsPerIp, 'max circuits per IP', 0),
    maxCircuitsPerSubnet: parseCount(flags.maxCircuitsPerSubnet, 'max circuits per subnet', 0),
    reservationGraceMs: parseDuration(flags.reservationGrace, 'reservation grace'),
    maxDurationMs: parseDuration(flags.maxDuration, 'max duration'),
    maxBytes: parseBytes(flags.maxBytes, 'max bytes')
  }
  const allow = (flags.allow ?? []).map(p => parsePeerId(p).toString())
  const stunPort = parsePort(flags.stunPort, 'STUN port', true)
  const metricsAt = flags.metrics != null ? parseBindAddress(flags.metrics, 'metrics') : undefined
  const listen = parseListen(flags.listen ?? DEFAULT_RELAY_LISTEN)
  const announce = parseListen(flags.announce ?? [])
  const ctx = createContext(flags, io)
  // a relay reads no bootstrap-nodes.json, and relays no WebRTC signalling of its own
  const settings = { ...await nodeSettings({ ...flags, defaultBootstrap: false, publicStun: false }, io, ctx.log), webrtc: false }
  // a private relay is of no use to strangers: only a public one announces itself
  const advertise = flags.advertise && allow.length === 0 && settings.dht !== false
  const init = await toBeamInit(settings, { ctx, node: { listen, announce, relayServer: limits, relayAllow: allow, relayAdvertise: advertise } })

  let stunRequests = 0
  let stunDropped = 0
  let stun: StunServer | undefined
  let metrics: MetricsServer | undefined
  let control: ControlHandle | undefined
  const node: BeamNode = await createBeam({ ...init, start: false })
  const peerIdText = node.peerId.toString()
  node.on('relay:advertised', e => { ctx.out.event('advertised', { peerId: peerIdText, ms: e.ms }) })
  try {
    await node.start()
    if (stunPort !== 0) {
      stun = await startStunServer({ port: stunPort, onRequest: () => { stunRequests++ }, onDrop: () => { stunDropped++ } })
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
          ...labelled('beam_relay_refusals_total', 'Reservation and connection requests the relay refused, by reason', 'reason', REFUSAL_REASONS, s.refusals),
          ...labelled('beam_relay_cap_refusals_total', 'Requests refused by one of beam\'s per-address or per-peer caps (also counted as resource_limit_exceeded refusals), by cap', 'cap', CAPS, s.capRefusals),
          { name: 'beam_relay_reservations_dropped_total', help: 'Reservations dropped because their holder left and did not come back within the grace period', type: 'counter', value: s.reservationsDropped },
          ...labelled('beam_relay_circuits_cut_total', 'Relayed connections the relay cut on a limit, by limit', 'limit', CUT_REASONS, s.circuitsCut),
          { name: 'beam_relay_stun_requests_total', help: 'STUN binding requests answered', type: 'counter', value: stunRequests },
          { name: 'beam_relay_stun_dropped_total', help: 'STUN binding requests left unanswered by the per-source and total rate limits', type: 'counter', value: stunDropped },
          { name: 'beam_relay_uptime_seconds', help: 'Seconds since the relay started', type: 'gauge', value: Math.round((Date.now() - started) / 1000) },
          ...memorySamples()
        ]
      })
    }
    const peerId = node.peerId.toString()
    const multiaddrs = node.getMultiaddrs().map(m => `${m.toString()}/p2p/${peerId}`)
    const entry = { multiaddr: multiaddrs.find(m => !m.startsWith('/ip4/127.') && !m.startsWith('/ip6/::1/')) ?? multiaddrs[0] ?? '', roles: ['bootstrap', 'relay'], ...(stun != null ? { stunPort: stun.port } : {}) }
    control = await openControl(ctx, io, { command: 'relay', role: 'relay' }, node)
    ctx.out.event('ready', { peerId, multiaddrs, stun: stun != null ? { port: stun.port } : null, metrics: metrics != null ? `http://${hostPort(metrics.host, metrics.port)}/metrics` : null, limits, bootstrapEntry: entry, dht: node.status().dht?.mode ?? null, advertised: advertise, runtime: { node: process.versions.node, flags: process.execArgv.filter(a => a.startsWith('--')) } })
    ctx.out.say([
      '',
      `beam relay: ${peerId}`,
      ...multiaddrs.map(m => `  ${m}`),
      `  limits:    ${limits.maxReservations} reservations (${cap(limits.maxReservationsPerIp)} per IP, ${cap(limits.maxReservationsPerSubnet)} per /24 or /48, held ${limits.reservationGraceMs / 1000} s after the holder leaves), ${limits.maxRelayedConnections} circuits (${limits.maxCircuitsPerPeer} per peer, ${cap(limits.maxCircuitsPerIp)} per IP, ${cap(limits.maxCircuitsPerSubnet)} per /24 or /48), duration ${limits.maxDurationMs === 0 ? 'unlimited' : `${limits.maxDurationMs} ms`}, data ${limits.maxBytes === 0 ? 'unlimited' : `${limits.maxBytes} bytes`}${allow.length > 0 ? `, private (${allow.length} peers)` : ''}`,
      `  stun:      ${stun != null ? `udp port ${stun.port}` : 'off'}`,
      `  dht:       ${node.status().dht?.mode ?? 'off'}`,
      ...(node.status().dht != null ? [`  announced: ${advertise ? 'yes, under the relay key: shares find this relay without a list' : 'no: shares use this relay only when given its address'}`] : []),
      ...(metrics != null ? [`  metrics:   http://${hostPort(metrics.host, metrics.port)}/metrics`] : []),
      ...(announce.length === 0 ? ['  note: no --announce address; peers elsewhere need this relay\'s public address'] : []),
      '  entry for bootstrap-nodes.json:',
      JSON.stringify(entry)
    ].join('\n'))
    await untilAborted(control.signal)
    ctx.log.info(node.relayStats(), 'stopping relay')
  } finally {
    await metrics?.close()
    await stun?.close()
    await stopWithin(node, ctx.log)
    await control?.close()
  }
}

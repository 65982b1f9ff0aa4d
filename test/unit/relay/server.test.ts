import { describe, it, expect } from 'vitest'
import { resolveRelayLimits, relayServerOptions, renderMetrics } from '../../../src/relay/index.ts'
import { parseDuration, parseBytes, parseBindAddress } from '../../../src/cli/parse.ts'
import { stunServersOf, parseBootstrapFile } from '../../../src/peer/index.ts'

describe('relay limits', () => {
  it('defaults fit tunnels: no duration or data cap, 1024 reservations and circuits', () => {
    const l = resolveRelayLimits()
    expect(l).toMatchObject({ maxReservations: 1024, maxRelayedConnections: 1024, maxDurationMs: 0, maxBytes: 0 })
    const o = relayServerOptions(l)
    expect(o.reservations?.applyDefaultLimit).toBe(false)
    expect(o.maxInboundHopStreams).toBe(1024)
  })

  it('a set limit is applied, the unset one never bites', () => {
    const o = relayServerOptions(resolveRelayLimits({ maxBytes: 65536 }))
    expect(o.reservations?.applyDefaultLimit).toBe(true)
    expect(o.reservations?.defaultDataLimit).toBe(65536n)
    expect(o.reservations?.defaultDurationLimit).toBe(2_147_483_647)
    const d = relayServerOptions(resolveRelayLimits({ maxDurationMs: 2000 }))
    expect(d.reservations?.defaultDurationLimit).toBe(2000)
    expect(d.reservations?.defaultDataLimit).toBe(BigInt(Number.MAX_SAFE_INTEGER))
  })

  it('rejects nonsense', () => {
    expect(() => resolveRelayLimits({ maxReservations: 0 })).toThrow(expect.objectContaining({ name: 'RelayLimitError' }))
    expect(() => resolveRelayLimits({ maxBytes: -1 })).toThrow(/>= 0/)
  })
})

describe('relay CLI values', () => {
  it('parses durations, sizes and bind addresses', () => {
    expect(parseDuration('0', 'd')).toBe(0)
    expect(parseDuration('90s', 'd')).toBe(90_000)
    expect(parseDuration('30m', 'd')).toBe(1_800_000)
    expect(parseDuration('1500ms', 'd')).toBe(1500)
    expect(() => parseDuration('soon', 'd')).toThrow(expect.objectContaining({ name: 'UsageError' }))
    expect(parseBytes('128KiB', 'b')).toBe(131072)
    expect(parseBytes('1GiB', 'b')).toBe(1024 ** 3)
    expect(parseBytes('10MB', 'b')).toBe(10_000_000)
    expect(() => parseBytes('12 parsecs', 'b')).toThrow(/expected/)
    expect(parseBindAddress('127.0.0.1:9090', 'm')).toEqual({ host: '127.0.0.1', port: 9090 })
    expect(parseBindAddress('9090', 'm')).toEqual({ host: '127.0.0.1', port: 9090 })
  })

  it('renders Prometheus text', () => {
    expect(renderMetrics([{ name: 'x_total', help: 'h', type: 'counter', value: 3 }])).toBe('# HELP x_total h\n# TYPE x_total counter\nx_total 3\n')
  })

  it('derives STUN servers from relay entries only, IP addresses only', () => {
    const ID = '12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4'
    const list = parseBootstrapFile(JSON.stringify({
      version: 1,
      nodes: [
        { multiaddr: `/ip4/198.51.100.2/tcp/4001/p2p/${ID}`, roles: ['relay'], stunPort: 3479 },
        { multiaddr: `/ip6/2001:db8::2/tcp/4001/p2p/${ID}`, roles: ['relay'] },
        { multiaddr: `/ip4/198.51.100.3/tcp/4001/p2p/${ID}`, roles: ['bootstrap'] },
        { multiaddr: `/dns4/relay.example/tcp/4001/p2p/${ID}`, roles: ['relay'] },
        { multiaddr: `/ip4/198.51.100.4/tcp/4001/p2p/${ID}`, roles: ['relay'], stunPort: 'x' }
      ]
    }))
    expect(list.dropped).toHaveLength(1)
    expect(stunServersOf(list.nodes)).toEqual(['stun:198.51.100.2:3479', 'stun:[2001:db8::2]:3478'])
  })
})

describe('relay limits by address', () => {
  it('protect by default (8 and 32 reservations, 64 and 128 relayed connections per IP and per /24 or /48, 60 s grace) without making the relay a limited one', () => {
    const l = resolveRelayLimits()
    expect(l).toMatchObject({ maxReservationsPerIp: 8, maxReservationsPerSubnet: 32, maxCircuitsPerIp: 64, maxCircuitsPerSubnet: 128, reservationGraceMs: 60_000 })
    // no data or duration limit on relayed connections: tunnels need unlimited ones
    const o = relayServerOptions(l)
    expect(o.reservations?.applyDefaultLimit).toBe(false)
    expect(o.reservations?.defaultDataLimit).toBeUndefined()
    expect(o.reservations?.defaultDurationLimit).toBeUndefined()
  })

  it('0 turns a cap off; negative or fractional values are refused', () => {
    expect(resolveRelayLimits({ maxReservationsPerIp: 0, maxCircuitsPerSubnet: 0, reservationGraceMs: 0 })).toMatchObject({ maxReservationsPerIp: 0, maxCircuitsPerSubnet: 0, reservationGraceMs: 0 })
    expect(() => resolveRelayLimits({ maxCircuitsPerIp: -1 })).toThrow(expect.objectContaining({ name: 'RelayLimitError' }))
    expect(() => resolveRelayLimits({ maxReservationsPerSubnet: 1.5 })).toThrow(/whole number/)
    expect(() => resolveRelayLimits({ reservationGraceMs: 2 ** 31 })).toThrow(/at most/)
  })
})

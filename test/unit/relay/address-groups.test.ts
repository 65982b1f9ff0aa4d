import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { addressGroup, groupOfIp, relayServerOptions, resolveRelayLimits } from '../../../src/relay/index.ts'

describe('address groups of relay caps', () => {
  it('an IPv4 address and its /24', () => {
    expect(groupOfIp('198.51.100.7')).toEqual({ ip: 'ip4:198.51.100.7', subnet: 'ip4/24:198.51.100' })
  })

  it('an IPv6 address (any spelling) and its /48; IPv4-mapped counts as IPv4', () => {
    expect(groupOfIp('2001:DB8:1:2::7')).toEqual({ ip: 'ip6:2001:db8:1:2:0:0:0:7', subnet: 'ip6/48:2001:db8:1' })
    expect(groupOfIp('2001:db8:1:ffff:0:0:0:1')?.subnet).toBe('ip6/48:2001:db8:1')
    expect(groupOfIp('::1')).toEqual({ ip: 'ip6:0:0:0:0:0:0:0:1', subnet: 'ip6/48:0:0:0' })
    expect(groupOfIp('::ffff:198.51.100.7')).toEqual(groupOfIp('198.51.100.7'))
    expect(groupOfIp('::ffff:c633:6407')).toEqual(groupOfIp('198.51.100.7'))
    expect(groupOfIp('fe80::1%eth0')?.ip).toBe('ip6:fe80:0:0:0:0:0:0:1')
    expect(groupOfIp('not an ip')).toBeUndefined()
  })

  it('from a connection\'s remote multiaddr; addresses without an IP share one network', () => {
    expect(addressGroup(multiaddr('/ip4/198.51.100.7/tcp/4001'))).toEqual(groupOfIp('198.51.100.7'))
    expect(addressGroup(multiaddr('/ip6/2001:db8:1::7/udp/4001/quic-v1'))).toEqual(groupOfIp('2001:db8:1::7'))
    expect(addressGroup(multiaddr('/memory/a'))).toEqual({ ip: 'other:/memory/a', subnet: 'other' })
    expect(addressGroup(multiaddr('/memory/b')).subnet).toBe(addressGroup(multiaddr('/memory/a')).subnet)
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

import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { addressGroup, groupOfIp } from '../../../src/relay/index.ts'

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


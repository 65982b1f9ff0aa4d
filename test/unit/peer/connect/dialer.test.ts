/**
 * RacingPeers: the peers beam's dial race runs for, counted, so that the
 * connection gater (isDirectDialOf: test/unit/peer/libp2p/libp2p-options.test.ts)
 * knows whom to hold direct dials back for. dialWaves: which addresses the
 * race dials first (a peer on this machine: its best local address alone;
 * a peer elsewhere: its TCP addresses, QUIC after the head start).
 */
import { describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { RacingPeers, dialWaves, localIps } from '../../../../src/peer/connect/dialer.ts'

const TARGET = '12D3KooWDTc6LHVF4wWivX7t1Ty6wLiVUjZJW7XyJ8FALTN69W6q'

describe('RacingPeers', () => {
  it('counts concurrent races for one peer', () => {
    const r = new RacingPeers()
    const peer = peerIdFromString(TARGET)
    expect(r.has(TARGET)).toBe(false)
    r.add(peer)
    r.add(peer)
    r.delete(peer)
    expect(r.has(peer)).toBe(true)
    r.delete(peer)
    expect(r.has(TARGET)).toBe(false)
    r.delete(peer)
    expect(r.has(TARGET)).toBe(false)
  })
})

describe('dialWaves', () => {
  // a share started with its defaults on a machine with one interface (192.0.2.2, fd00::2)
  const DEFAULT_SHARE = [
    '/ip4/192.0.2.2/udp/4002/quic-v1', '/ip4/192.0.2.2/tcp/4001', '/ip6/fd00::2/tcp/4003', '/ip6/fd00::2/udp/4004/quic-v1',
    '/ip4/127.0.0.1/udp/4002/quic-v1', '/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4003', '/ip6/::1/udp/4004/quic-v1'
  ].map(a => multiaddr(a))
  const HERE = new Set(['127.0.0.1', '::1', '192.0.2.2', 'fd00::2', 'fe80::1'])

  it('a share on this machine: its loopback TCP address alone first, the seven others after', () => {
    const { first, rest } = dialWaves(DEFAULT_SHARE, HERE)
    expect(first.map(String)).toEqual(['/ip4/127.0.0.1/tcp/4001'])
    expect(rest).toHaveLength(7)
  })

  it('without a loopback address, the best interface address of this machine (TCP, IPv4 first)', () => {
    const lan = DEFAULT_SHARE.filter(a => !/127\.0\.0\.1|::1\//.test(a.toString()))
    expect(dialWaves(lan, HERE).first.map(String)).toEqual(['/ip4/192.0.2.2/tcp/4001'])
    expect(dialWaves(lan.filter(a => !a.toString().includes('/tcp/')), HERE).first.map(String)).toEqual(['/ip4/192.0.2.2/udp/4002/quic-v1'])
  })

  it('a share elsewhere: its TCP addresses first, QUIC and its loopback addresses (this machine, not the share) after', () => {
    const elsewhere = new Set(['127.0.0.1', '::1', '198.51.100.7'])
    const { first, rest } = dialWaves(DEFAULT_SHARE, elsewhere)
    expect(first.map(String)).toEqual(['/ip4/192.0.2.2/tcp/4001', '/ip6/fd00::2/tcp/4003'])
    expect(new Set(rest.map(String))).toEqual(new Set([
      '/ip4/192.0.2.2/udp/4002/quic-v1', '/ip6/fd00::2/udp/4004/quic-v1',
      '/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4003', '/ip4/127.0.0.1/udp/4002/quic-v1', '/ip6/::1/udp/4004/quic-v1'
    ]))
    // WebSockets rides on TCP but is not plain TCP: second wave too
    const ws = multiaddr('/ip4/192.0.2.2/tcp/4005/ws')
    expect(dialWaves([ws, ...DEFAULT_SHARE], elsewhere).rest.map(String)).toContain(ws.toString())
  })

  it('a share elsewhere with no TCP address: its non-loopback addresses first', () => {
    const elsewhere = new Set(['127.0.0.1', '::1', '198.51.100.7'])
    const quicOnly = DEFAULT_SHARE.filter(a => a.toString().includes('quic-v1'))
    expect(dialWaves(quicOnly, elsewhere).first.map(String)).toEqual(['/ip4/192.0.2.2/udp/4002/quic-v1', '/ip6/fd00::2/udp/4004/quic-v1'])
  })

  it('a loopback-only share (tests, the benchmark): every address at once', () => {
    const loop = DEFAULT_SHARE.filter(a => /127\.0\.0\.1|::1\//.test(a.toString()))
    expect(dialWaves(loop, HERE)).toEqual({ first: loop, rest: [] })
  })

  it('localIps lists this machine\'s interface addresses, loopback included', () => {
    expect(localIps().has('127.0.0.1')).toBe(true)
  })
})

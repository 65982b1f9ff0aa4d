import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { classifyReachability, isPublicAddress, parseReserveAnswer } from '../../../../src/peer/index.ts'
import type { AddressOrigin, HeldRelay, OwnAddress } from '../../../../src/peer/index.ts'

const R = '12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4'
const a = (text: string, origin: AddressOrigin = 'listen', confirmed = false): OwnAddress => ({ multiaddr: multiaddr(text), origin, confirmed })
const relay = (limited: boolean | undefined): HeldRelay => ({ relay: R, limited })
const lan = [a('/ip4/127.0.0.1/tcp/4001'), a('/ip4/192.168.1.20/tcp/4001'), a('/ip6/::1/tcp/4001'), a('/ip6/fe80::1/tcp/4001'), a('/ip4/10.0.0.2/udp/4001/quic-v1')]

describe('reachability classifier', () => {
  it('lan-only: private, loopback and link-local addresses and no relay', () => {
    expect(classifyReachability({ addresses: lan, relays: [] })).toBe('lan-only')
    expect(classifyReachability({ addresses: [], relays: [] })).toBe('lan-only')
    // a wildcard is no address anyone can dial
    expect(classifyReachability({ addresses: [a('/ip4/0.0.0.0/tcp/4001')], relays: [] })).toBe('lan-only')
  })

  it('public: a listen address on a public interface, an announced one, or an observed one AutoNAT confirmed', () => {
    expect(classifyReachability({ addresses: [...lan, a('/ip4/8.8.4.4/tcp/4001')], relays: [] })).toBe('public')
    expect(classifyReachability({ addresses: [...lan, a('/ip6/2001:4860::1/udp/4001/quic-v1')], relays: [] })).toBe('public')
    expect(classifyReachability({ addresses: [...lan, a('/ip4/8.8.4.4/tcp/4001', 'announce', true)], relays: [] })).toBe('public')
    expect(classifyReachability({ addresses: [...lan, a('/dns4/share.example.org/tcp/4001', 'announce', true)], relays: [] })).toBe('public')
    expect(classifyReachability({ addresses: [...lan, a('/ip4/8.8.4.4/tcp/4001', 'observed', true)], relays: [relay(true)] })).toBe('public')
    // an observed address nobody dialled back on proves nothing (a NAT's mapping)
    expect(classifyReachability({ addresses: [...lan, a('/ip4/8.8.4.4/tcp/53211', 'observed', false)], relays: [] })).toBe('lan-only')
    expect(classifyReachability({ addresses: [a('/ip4/8.8.4.4/tcp/53211', 'mapped', false)], relays: [] })).toBe('lan-only')
    // a name is public only when announced; a private address is never public, announced or not
    expect(isPublicAddress(a('/dns4/share.example.org/tcp/4001', 'observed', false))).toBe(false)
    expect(isPublicAddress(a('/ip4/192.168.1.20/tcp/4001', 'announce', true))).toBe(false)
    // an overlay network address: anyone on that network dials it
    expect(isPublicAddress(a('/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:4001'))).toBe(true)
  })

  it('a relayed address is never public: it is a reservation', () => {
    expect(isPublicAddress(a(`/ip4/8.8.4.4/tcp/4001/p2p/${R}/p2p-circuit`))).toBe(false)
  })

  it('relayed with a reservation on a relay without limits; signalling-only with limited (or not yet known) ones only', () => {
    expect(classifyReachability({ addresses: lan, relays: [relay(false)] })).toBe('relayed')
    expect(classifyReachability({ addresses: lan, relays: [relay(true), relay(false)] })).toBe('relayed')
    expect(classifyReachability({ addresses: lan, relays: [relay(true)] })).toBe('signalling-only')
    expect(classifyReachability({ addresses: lan, relays: [relay(undefined)] })).toBe('signalling-only')
    expect(classifyReachability({ addresses: [a('/ip4/8.8.4.4/tcp/4001')], relays: [relay(false)] })).toBe('public')
  })
})

describe('relay reservation terms', () => {
  // HopMessage{type: STATUS(2), status: OK(100), limit: {duration: 120, data: 131072}}
  const limited = Uint8Array.from([0x08, 0x02, 0x22, 0x06, 0x08, 0x78, 0x10, 0x80, 0x80, 0x08, 0x28, 0x64])
  // HopMessage{type: STATUS, reservation: {expire: 1}, status: OK}: no limit
  const full = Uint8Array.from([0x08, 0x02, 0x1a, 0x02, 0x08, 0x01, 0x28, 0x64])

  it('reads whether the relay limits relayed connections, and how', () => {
    expect(parseReserveAnswer(limited)).toEqual({ ok: true, limited: true, duration: 120, dataBytes: 131072 })
    expect(parseReserveAnswer(full)).toEqual({ ok: true, limited: false })
    // RESERVATION_REFUSED (200)
    expect(parseReserveAnswer(Uint8Array.from([0x08, 0x02, 0x28, 0xc8, 0x01]))).toEqual({ ok: false, limited: false })
    expect(parseReserveAnswer(Uint8Array.from([0x22, 0x09, 0x00]))).toBeUndefined()
  })
})

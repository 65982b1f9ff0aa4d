import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import {
  encodeReversalRequest, decodeReversalRequest, encodeReversalResponse, decodeReversalResponse, isDialBackAddress,
  ReversalStatus, HANDSHAKE_VERSION, PROOF_LENGTH, MAX_REVERSAL_ADDRESSES
} from '../../../src/signaling/index.ts'

const proof = new Uint8Array(PROOF_LENGTH).fill(7)
const a = multiaddr('/ip4/8.8.4.4/tcp/4001')
const b = multiaddr('/ip6/2001:4860::1/udp/4001/quic-v1')

describe('reversal request codec', () => {
  it('round-trips with and without proof', () => {
    for (const req of [{ addresses: [a] }, { proof, addresses: [a, b] }, { addresses: [] }]) {
      const back = decodeReversalRequest(encodeReversalRequest(req))
      expect(back.proof).toEqual(req.proof)
      expect(back.addresses.map(x => x.toString())).toEqual(req.addresses.map(x => x.toString()))
    }
  })

  it('has the documented wire layout', () => {
    const buf = encodeReversalRequest({ addresses: [a] })
    expect(Array.from(buf.subarray(0, 4))).toEqual([HANDSHAKE_VERSION, 0, 1, a.bytes.length])
    expect(buf.length).toBe(4 + a.bytes.length)
  })

  it('rejects bad input with named errors', () => {
    expect(() => decodeReversalRequest(new Uint8Array([]))).toThrow(expect.objectContaining({ name: 'HandshakeError' }))
    expect(() => decodeReversalRequest(new Uint8Array([2, 0, 0]))).toThrow(expect.objectContaining({ name: 'UnsupportedVersionError' }))
    expect(() => decodeReversalRequest(new Uint8Array([1, 5, 0]))).toThrow(/proof length/)
    expect(() => decodeReversalRequest(new Uint8Array([1, 0, MAX_REVERSAL_ADDRESSES + 1]))).toThrow(/too many addresses/)
    expect(() => decodeReversalRequest(new Uint8Array([1, 0, 1, 40, 1, 2]))).toThrow(/bad address/)
    expect(() => decodeReversalRequest(new Uint8Array([1, 0, 1, 2, 0xff, 0xff]))).toThrow(/undecodable address/)
    expect(() => decodeReversalRequest(new Uint8Array([1, 0, 0, 9]))).toThrow(/wrong length/)
    expect(() => encodeReversalRequest({ addresses: [a, a, a, a, a] })).toThrow(/at most/)
  })

  it('round-trips responses and refuses unknown statuses', () => {
    expect(decodeReversalResponse(encodeReversalResponse({ status: ReversalStatus.DIAL_FAILED, reason: 'no answer' }))).toEqual({ status: ReversalStatus.DIAL_FAILED, reason: 'no answer' })
    expect(() => decodeReversalResponse(new Uint8Array([1, 99]))).toThrow(/unknown reversal status/)
  })
})

describe('isDialBackAddress: what a share may be asked to dial', () => {
  it('takes public IPv4/IPv6 literals with TCP or QUIC v1, with or without a trailing peer id', () => {
    for (const s of ['/ip4/8.8.4.4/tcp/4001', '/ip4/1.2.3.4/udp/9/quic-v1', '/ip6/2001:4860::1/tcp/1',
      '/ip4/8.8.4.4/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo']) {
      expect(isDialBackAddress(multiaddr(s)), s).toBe(true)
    }
  })

  it('refuses the share\'s own networks, names, other transports, relays and port 0', () => {
    for (const s of [
      '/ip4/127.0.0.1/tcp/22', '/ip4/10.0.0.1/tcp/22', '/ip4/192.168.1.1/tcp/80', '/ip4/172.16.0.5/tcp/80',
      '/ip4/169.254.169.254/tcp/80', '/ip4/100.64.0.1/tcp/80', '/ip4/0.0.0.0/tcp/80', '/ip4/224.0.0.1/tcp/80', '/ip4/255.255.255.255/tcp/80',
      '/ip6/::1/tcp/22', '/ip6/fe80::1/tcp/22', '/ip6/fd00::1/tcp/22', '/ip6/::/tcp/22', '/ip6/ff02::1/tcp/22',
      '/dns4/example.com/tcp/80', '/dns/localhost/tcp/80',
      '/ip4/8.8.4.4/tcp/0', '/ip4/8.8.4.4/udp/53', '/ip4/8.8.4.4/udp/4001/quic', '/ip4/8.8.4.4/udp/4001/webrtc-direct',
      '/ip4/8.8.4.4/tcp/80/ws', '/ip4/8.8.4.4/tcp/80/tls/ws',
      '/ip4/8.8.4.4/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo/p2p-circuit/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    ]) {
      expect(isDialBackAddress(multiaddr(s)), s).toBe(false)
    }
  })
})

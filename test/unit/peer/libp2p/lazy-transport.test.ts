import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import type { Transport } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { lazyTransport, LazyTransportListenError } from '../../../../src/peer/libp2p/lazy-transport.ts'
import { isWebSocketsAddress, isWebrtcAddress } from '../../../../src/peer/libp2p/libp2p-options.ts'

const isTcp = (ma: { getComponents: () => Array<{ name: string }> }): boolean =>
  ma.getComponents().some(c => c.name === 'tcp')

describe('lazyTransport: a real transport built on first dial', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  async function listener (): Promise<Libp2p> {
    const n = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    nodes.push(n)
    return n
  }

  it('imports nothing until a dial, loads once for concurrent dials, and then carries the connection', async () => {
    const target = await listener()
    let loads = 0
    let failNext = true
    const dialer = await createLibp2p({
      transports: [lazyTransport({
        name: 'lazy-tcp',
        matches: isTcp,
        load: async () => {
          loads++
          await new Promise(resolve => setTimeout(resolve, 20))
          if (failNext) { failNext = false; throw new Error('add-on failed to load') }
          return tcp() as (components: unknown) => Transport
        }
      })],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    nodes.push(dialer)
    expect(loads).toBe(0)
    const addr = target.getMultiaddrs()[0]
    if (addr == null) throw new Error('the listener has no address')

    // a failed load fails that dial and is tried again on the next one
    await expect(dialer.dial(addr)).rejects.toThrow()
    expect(loads).toBe(1)

    const [a, b] = await Promise.all([
      dialer.dial(addr),
      dialer.dial(addr)
    ])
    expect(loads).toBe(2)
    expect(a.remotePeer.equals(target.peerId)).toBe(true)
    expect(b.remotePeer.equals(target.peerId)).toBe(true)
    await dialer.hangUp(target.peerId)
    await dialer.dial(addr)
    expect(loads).toBe(2)
  })

  it('refuses to listen before it is loaded, with a named error', async () => {
    const t = lazyTransport({ name: 'lazy-tcp', matches: isTcp, load: async () => tcp() as (components: unknown) => Transport })({})
    expect(t.dialFilter([multiaddr('/ip4/127.0.0.1/tcp/1'), multiaddr('/ip4/127.0.0.1/udp/1/quic-v1')]).map(String))
      .toEqual(['/ip4/127.0.0.1/tcp/1'])
    expect(() => t.createListener({} as never)).toThrow(LazyTransportListenError)
  })

  it('isWebrtcAddress: direct /webrtc, the circuit form, and not the others', () => {
    expect(isWebrtcAddress('/webrtc')).toBe(true)
    expect(isWebrtcAddress('/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit/webrtc/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo')).toBe(true)
    expect(isWebrtcAddress('/ip4/127.0.0.1/udp/4001/webrtc-direct')).toBe(false)
    expect(isWebrtcAddress('/ip4/127.0.0.1/tcp/4001')).toBe(false)
  })

  it('isWebSocketsAddress: /ws and /wss (also as /tls/ws), not plain TCP or a circuit through a /ws relay', () => {
    expect(isWebSocketsAddress('/ip4/127.0.0.1/tcp/4002/ws')).toBe(true)
    expect(isWebSocketsAddress('/dns4/relay.example/tcp/443/wss')).toBe(true)
    expect(isWebSocketsAddress('/dns4/relay.example/tcp/443/tls/ws')).toBe(true)
    expect(isWebSocketsAddress('/ip4/127.0.0.1/tcp/4002')).toBe(false)
    expect(isWebSocketsAddress('/ip4/127.0.0.1/tcp/4002/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo')).toBe(false)
  })
})

import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { relayIdOfCircuit, relayOfCircuit, relaysOf } from '../../../../src/peer/node/connectivity.ts'

const R = '12D3KooWRpz3ZWWJfNPSHHa5AcCkJFHzjEkdE2dMqx1pEbxUjb4Q'
const ME = '12D3KooWGkcUfxXKhEYJZoPXkv5MQyM3usF8QRJDYe7jEUtWZa1c'

describe('relayed addresses grouped by relay', () => {
  it('one relay on TCP and QUIC is one reservation with two addresses; direct addresses are not relays', () => {
    const tcp = multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit`)
    const quic = multiaddr(`/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${R}/p2p-circuit`)
    const direct = multiaddr('/ip4/127.0.0.1/tcp/5000')
    expect(relayIdOfCircuit(tcp)).toBe(R)
    expect(relayIdOfCircuit(direct)).toBeUndefined()
    expect(relayOfCircuit(quic)).toBe(`/ip4/127.0.0.1/udp/4001/quic-v1/p2p/${R}`)
    expect([...relaysOf([tcp, direct, quic])]).toEqual([[R, [tcp.toString(), quic.toString()]]])
  })

  it('the relay is the peer before /p2p-circuit, not the node after it', () => {
    const ma = multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${R}/p2p-circuit/p2p/${ME}`)
    expect(relayIdOfCircuit(ma)).toBe(R)
  })
})

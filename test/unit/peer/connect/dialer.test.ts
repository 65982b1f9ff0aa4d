/**
 * While beam's dial race runs for a peer, the connection gater refuses direct
 * addresses that name that peer (libp2p would serialise the race's relayed
 * dial behind them); bare addresses (the race's own) and relayed ones pass.
 */
import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { isDirectDialOf } from '../../../../src/peer/libp2p/libp2p-options.ts'
import { RacingPeers } from '../../../../src/peer/connect/dialer.ts'

const TARGET = '12D3KooWDTc6LHVF4wWivX7t1Ty6wLiVUjZJW7XyJ8FALTN69W6q'
const RELAY = '12D3KooWPPHh8NgnBJ52w3mkqpkzRan9zR44SFctLXgmqMY19AAA'
const OTHER = '12D3KooWSo6LfWRwHdMN3sLUW8MJqSFALHKu3NtCY2KWLz7Hhe1p'

describe('isDirectDialOf', () => {
  const racing = (peer: string): boolean => peer === TARGET
  it('refuses a direct address that names a racing peer', () => {
    expect(isDirectDialOf(multiaddr(`/ip4/10.3.0.2/tcp/4001/p2p/${TARGET}`), racing)).toBe(true)
    expect(isDirectDialOf(multiaddr(`/ip4/10.3.0.2/udp/4001/quic-v1/p2p/${TARGET}`), racing)).toBe(true)
  })
  it('lets through the race\'s own bare addresses, relayed addresses and other peers', () => {
    expect(isDirectDialOf(multiaddr('/ip4/10.3.0.2/tcp/4001'), racing)).toBe(false)
    expect(isDirectDialOf(multiaddr(`/ip4/198.51.100.12/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${TARGET}`), racing)).toBe(false)
    expect(isDirectDialOf(multiaddr(`/ip4/198.51.100.12/tcp/4001/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${TARGET}`), racing)).toBe(false)
    expect(isDirectDialOf(multiaddr(`/ip4/198.51.100.12/tcp/4001/p2p/${RELAY}`), racing)).toBe(false)
    expect(isDirectDialOf(multiaddr(`/ip4/10.3.0.3/tcp/4001/p2p/${OTHER}`), racing)).toBe(false)
  })
})

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

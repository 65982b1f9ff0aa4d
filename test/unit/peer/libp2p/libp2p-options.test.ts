/**
 * What beam configures libp2p with (src/peer/libp2p/libp2p-options.ts): the
 * connection ceiling, and the connection gater's isDirectDialOf: while beam's
 * dial race runs for a peer, the gater refuses direct addresses that name
 * that peer (libp2p would serialise the race's relayed dial behind them);
 * bare addresses (the race's own) and relayed ones pass.
 */
import { describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { isDirectDialOf, maxConnections } from '../../../../src/peer/libp2p/libp2p-options.ts'
import { MAX_CONNECTIONS } from '../../../../src/peer/constants.ts'
import { resolveRelayLimits } from '../../../../src/relay/server.ts'

describe('connection ceiling', () => {
  it('is the ordinary ceiling on a node that relays nothing', () => {
    expect(maxConnections()).toBe(MAX_CONNECTIONS)
  })

  it('covers every reservation and both legs of every circuit a relay accepts', () => {
    const limits = resolveRelayLimits({ maxReservations: 1500, maxRelayedConnections: 3000 })
    const ceiling = maxConnections(limits)
    expect(ceiling).toBeGreaterThanOrEqual(1500 + 2 * 3000)
    expect(ceiling).toBeGreaterThan(MAX_CONNECTIONS)
  })

  it('never drops below the ordinary ceiling for a small relay', () => {
    expect(maxConnections(resolveRelayLimits({ maxReservations: 2, maxRelayedConnections: 2 }))).toBe(MAX_CONNECTIONS)
  })

  it('holds the default relay limits (1,024 reservations and circuits) with room to spare', () => {
    expect(maxConnections(resolveRelayLimits())).toBeGreaterThanOrEqual(1024 + 2 * 1024)
  })
})

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

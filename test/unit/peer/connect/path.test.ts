import { describe, expect, it } from 'vitest'

describe('a WebRTC connection out of data channels', () => {
  it('is told apart from a broken connection and from libp2p\'s own stream limit', async () => {
    const { isStreamCapacityError } = await import('../../../../src/peer/connect/path.ts')
    const { TooManyOutboundProtocolStreamsError } = await import('@libp2p/interface')
    // the message node-datachannel gives when libdatachannel has no stream id left
    expect(isStreamCapacityError(new Error('libdatachannel error while creating datachannel: Too many DataChannels'))).toBe(true)
    expect(isStreamCapacityError(new TooManyOutboundProtocolStreamsError('Too many outbound protocol streams for protocol "/beam/tunnel/1" - 1024/1024'))).toBe(false)
    expect(isStreamCapacityError(new Error('the connection closed'))).toBe(false)
    expect(isStreamCapacityError('Too many DataChannels')).toBe(false)
  })
})

describe('ping streams on one connection', () => {
  it('beam\'s ping works while another ping (the connection monitor\'s) is open on the same connection', { timeout: 20_000 }, async () => {
    const { createBeam } = await import('../../../../src/index.ts')
    const { pingConnection } = await import('../../../../src/peer/connect/path.ts')
    const { PING_PROTOCOL, MAX_PING_STREAMS } = await import('../../../../src/peer/constants.ts')
    const a = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], transports: { webrtc: false, quic: false }, dht: false })
    const b = await createBeam({ transports: { webrtc: false, quic: false }, dht: false })
    try {
      const addr = a.getMultiaddrs()[0]
      if (addr == null) throw new Error('a listens nowhere')
      const conn = await b.libp2p.dial(addr)
      // libp2p's ping service allows one outbound ping stream: a second one
      // failed with "Too many outbound protocol streams", and the connection
      // monitor aborted the connection for it
      const held = await conn.newStream(PING_PROTOCOL, { runOnLimitedConnection: true })
      try {
        expect(await pingConnection(conn, { signal: AbortSignal.timeout(5000) })).toBeGreaterThanOrEqual(0)
        expect(MAX_PING_STREAMS).toBeGreaterThanOrEqual(3)
        expect(conn.status).toBe('open')
      } finally {
        held.abort(new Error('test done'))
      }
    } finally {
      await b.stop()
      await a.stop()
    }
  })
})

describe('connections with limits (a relay that limits data or time)', () => {
  it('are never chosen for a tunnel stream, however the others rank, and a lone one gives none', async () => {
    const { multiaddr } = await import('@multiformats/multiaddr')
    const { bestConnection, bestTunnelConnection, tunnelConnections } = await import('../../../../src/peer/connect/path.ts')
    type Conn = import('@libp2p/interface').Connection
    const relayId = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
    const peer = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    // what the ranking reads of a connection: its address, limits, status and age
    const conn = (id: string, addr: string, limits: Conn['limits'], open: number): Conn => ({
      id, remoteAddr: multiaddr(addr), limits, status: 'open', timeline: { open }
    }) as unknown as Conn
    const limited = conn('limited', `/ip4/127.0.0.1/tcp/4001/p2p/${relayId}/p2p-circuit/p2p/${peer}`, { bytes: 131072n, seconds: 120 }, 1)
    const full = conn('full', `/ip4/127.0.0.1/tcp/4002/p2p/${relayId}/p2p-circuit/p2p/${peer}`, undefined, 3)
    const webrtc = conn('webrtc', `/ip4/127.0.0.1/tcp/4001/p2p/${relayId}/p2p-circuit/webrtc/p2p/${peer}`, undefined, 2)
    const durationOnly = conn('duration', `/ip4/127.0.0.1/tcp/4003/p2p/${relayId}/p2p-circuit/p2p/${peer}`, { seconds: 3600 }, 0)
    // alone, a limited relay is what libp2p's ranking (and the node's path events) show: tunnels get nothing
    expect(bestConnection([limited])?.id).toBe('limited')
    expect(bestTunnelConnection([limited])).toBeUndefined()
    expect(bestTunnelConnection([limited, durationOnly])).toBeUndefined()
    // a relay without limits, or a WebRTC path signalled through the limited one, carries the tunnel
    expect(bestTunnelConnection([limited, full])?.id).toBe('full')
    expect(tunnelConnections([limited, full, webrtc, durationOnly]).map(c => c.id)).toEqual(['webrtc', 'full'])
  })

  it('are described in words', async () => {
    const { describeLimits, limitsOf } = await import('../../../../src/peer/connect/limits.ts')
    expect(describeLimits({ bytes: 131072, seconds: 120 })).toBe('128 KiB, 2 min')
    expect(describeLimits({ bytes: 2 * 1024 * 1024 })).toBe('2 MiB')
    expect(describeLimits({ seconds: 2 })).toBe('2 s')
    // what is left, rounded up to the limit it was
    expect(describeLimits({ bytes: 130452, seconds: 119 })).toBe('128 KiB, 2 min')
    expect(describeLimits({ bytes: 2 * 1024 * 1024 - 3000 })).toBe('2 MiB')
    expect(limitsOf({ limits: { bytes: 131072n, seconds: 120 } })).toEqual({ bytes: 131072, seconds: 120 })
    expect(limitsOf({ limits: undefined })).toBeUndefined()
    // a beam relay with --max-bytes alone: the time limit it must also send is one nobody reaches
    expect(limitsOf({ limits: { bytes: 2097152n, seconds: 2147483640 } })).toEqual({ bytes: 2097152 })
    // and --max-duration alone: the data limit it must also send (2^53 - 1, a little used) is left out
    expect(limitsOf({ limits: { bytes: 9007199254740371n, seconds: 1999 } })).toEqual({ seconds: 1999 })
    expect(describeLimits({})).toBe('limits not stated')
  })
})

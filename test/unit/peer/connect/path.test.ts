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

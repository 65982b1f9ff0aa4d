import { createSocket } from 'node:dgram'
import { describe, it, expect } from 'vitest'
import { bindingResponse, parseBindingRequest, startStunServer, STUN_MAGIC, resolveRelayLimits, relayServerOptions, renderMetrics, parseHopHeader, RELAY_STATUS } from '../../../src/relay/index.ts'
import { parseDuration, parseBytes, parseBindAddress } from '../../../src/cli/parse.ts'
import { stunServersOf, parseBootstrapFile } from '../../../src/peer/index.ts'

const TXID = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex')

function request (txid = TXID): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16BE(0x0001, 0)
  b.writeUInt32BE(STUN_MAGIC, 4)
  txid.copy(b, 8)
  return b
}

describe('STUN responder', () => {
  it('encodes XOR-MAPPED-ADDRESS exactly as RFC 5769 section 2.2', () => {
    const res = bindingResponse({ transactionId: TXID }, '192.0.2.1', 32853)
    expect(res.readUInt16BE(0)).toBe(0x0101)
    expect(res.subarray(8, 20).equals(TXID)).toBe(true)
    // first attribute: XOR-MAPPED-ADDRESS from the RFC's sample IPv4 response
    expect(res.subarray(20, 32).toString('hex')).toBe('002000080001a147e112a643')
    // the length field covers every attribute
    expect(res.readUInt16BE(2)).toBe(res.length - 20)
  })

  it('ignores what is not a binding request', () => {
    expect(parseBindingRequest(Buffer.alloc(10))).toBeUndefined()
    const wrongCookie = request(); wrongCookie.writeUInt32BE(1, 4)
    expect(parseBindingRequest(wrongCookie)).toBeUndefined()
    const notBinding = request(); notBinding.writeUInt16BE(0x0003, 0)
    expect(parseBindingRequest(notBinding)).toBeUndefined()
    expect(parseBindingRequest(request())?.transactionId.equals(TXID)).toBe(true)
  })

  it('answers a real UDP client on loopback with its own address and port', async () => {
    let count = 0
    const server = await startStunServer({ host: '127.0.0.1', port: 0, onRequest: () => { count++ } })
    const client = createSocket('udp4')
    try {
      await new Promise<void>(resolve => client.bind(0, '127.0.0.1', resolve))
      const answer = new Promise<Buffer>(resolve => client.once('message', resolve))
      client.send(request(), server.port, '127.0.0.1')
      const res = await answer
      const port = client.address().port
      const xport = res.readUInt16BE(26) ^ (STUN_MAGIC >>> 16)
      const xaddr = [0, 1, 2, 3].map(i => (res[28 + i] ?? 0) ^ [0x21, 0x12, 0xa4, 0x42][i]!).join('.')
      expect({ xaddr, xport }).toEqual({ xaddr: '127.0.0.1', xport: port })
      expect(count).toBe(1)
    } finally {
      client.close()
      await server.close()
    }
  })
})

describe('relay limits', () => {
  it('defaults fit tunnels: no duration or data cap, 1024 reservations and circuits', () => {
    const l = resolveRelayLimits()
    expect(l).toMatchObject({ maxReservations: 1024, maxRelayedConnections: 1024, maxDurationMs: 0, maxBytes: 0 })
    const o = relayServerOptions(l)
    expect(o.reservations?.applyDefaultLimit).toBe(false)
    expect(o.maxInboundHopStreams).toBe(1024)
  })

  it('a set limit is applied, the unset one never bites', () => {
    const o = relayServerOptions(resolveRelayLimits({ maxBytes: 65536 }))
    expect(o.reservations?.applyDefaultLimit).toBe(true)
    expect(o.reservations?.defaultDataLimit).toBe(65536n)
    expect(o.reservations?.defaultDurationLimit).toBe(2_147_483_647)
    const d = relayServerOptions(resolveRelayLimits({ maxDurationMs: 2000 }))
    expect(d.reservations?.defaultDurationLimit).toBe(2000)
    expect(d.reservations?.defaultDataLimit).toBe(BigInt(Number.MAX_SAFE_INTEGER))
  })

  it('rejects nonsense', () => {
    expect(() => resolveRelayLimits({ maxReservations: 0 })).toThrow(expect.objectContaining({ name: 'RelayLimitError' }))
    expect(() => resolveRelayLimits({ maxBytes: -1 })).toThrow(/>= 0/)
  })
})

describe('relay CLI values', () => {
  it('parses durations, sizes and bind addresses', () => {
    expect(parseDuration('0', 'd')).toBe(0)
    expect(parseDuration('90s', 'd')).toBe(90_000)
    expect(parseDuration('30m', 'd')).toBe(1_800_000)
    expect(parseDuration('1500ms', 'd')).toBe(1500)
    expect(() => parseDuration('soon', 'd')).toThrow(expect.objectContaining({ name: 'UsageError' }))
    expect(parseBytes('128KiB', 'b')).toBe(131072)
    expect(parseBytes('1GiB', 'b')).toBe(1024 ** 3)
    expect(parseBytes('10MB', 'b')).toBe(10_000_000)
    expect(() => parseBytes('12 parsecs', 'b')).toThrow(/expected/)
    expect(parseBindAddress('127.0.0.1:9090', 'm')).toEqual({ host: '127.0.0.1', port: 9090 })
    expect(parseBindAddress('9090', 'm')).toEqual({ host: '127.0.0.1', port: 9090 })
  })

  it('renders Prometheus text', () => {
    expect(renderMetrics([{ name: 'x_total', help: 'h', type: 'counter', value: 3 }])).toBe('# HELP x_total h\n# TYPE x_total counter\nx_total 3\n')
  })

  it('derives STUN servers from relay entries only, IP addresses only', () => {
    const ID = '12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4'
    const list = parseBootstrapFile(JSON.stringify({
      version: 1,
      nodes: [
        { multiaddr: `/ip4/198.51.100.2/tcp/4001/p2p/${ID}`, roles: ['relay'], stunPort: 3479 },
        { multiaddr: `/ip6/2001:db8::2/tcp/4001/p2p/${ID}`, roles: ['relay'] },
        { multiaddr: `/ip4/198.51.100.3/tcp/4001/p2p/${ID}`, roles: ['bootstrap'] },
        { multiaddr: `/dns4/relay.example/tcp/4001/p2p/${ID}`, roles: ['relay'] },
        { multiaddr: `/ip4/198.51.100.4/tcp/4001/p2p/${ID}`, roles: ['relay'], stunPort: 'x' }
      ]
    }))
    expect(list.dropped).toHaveLength(1)
    expect(stunServersOf(list.nodes)).toEqual(['stun:198.51.100.2:3479', 'stun:[2001:db8::2]:3478'])
  })
})

describe('relay accounting', () => {
  it('reads type, status and the reservation field of a length-prefixed HopMessage', () => {
    // STATUS(2), status 202 (PERMISSION_DENIED)
    expect(parseHopHeader(Uint8Array.from([5, 0x08, 0x02, 0x28, 0xca, 0x01]))).toEqual({ type: 2, status: 202 })
    // STATUS(2), reservation {…2 bytes}, status 100 (OK)
    expect(parseHopHeader(Uint8Array.from([8, 0x08, 0x02, 0x1a, 0x02, 0x08, 0x01, 0x28, 0x64]))).toEqual({ type: 2, status: 100, hasReservation: true })
    expect(RELAY_STATUS[202]).toBe('permission_denied')
    // truncated or not protobuf: no answer rather than a wrong one
    expect(parseHopHeader(Uint8Array.from([0x80]))).toBeUndefined()
    expect(parseHopHeader(Uint8Array.from([3, 0x0f, 0x00, 0x00]))).toBeUndefined()
  })

  it('renders labelled counter families with one HELP/TYPE header', () => {
    const text = renderMetrics([
      { name: 'x_total', help: 'h', type: 'counter', value: 1, labels: { reason: 'a' } },
      { name: 'x_total', help: 'h', type: 'counter', value: 2, labels: { reason: 'b"c' } }
    ])
    expect(text).toBe('# HELP x_total h\n# TYPE x_total counter\nx_total{reason="a"} 1\nx_total{reason="b\\"c"} 2\n')
  })
})

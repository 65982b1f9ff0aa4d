/**
 * The STUN responder of beam relay (src/relay/stun.ts): the binding codec,
 * answers to real UDP clients on loopback, and its per-source rate limits.
 */
import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { bindingResponse, parseBindingRequest, startStunServer, STUN_MAGIC } from '../../../src/relay/index.ts'
import type { StunServer } from '../../../src/relay/index.ts'

const TXID = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex')

function request (txid = TXID): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16BE(0x0001, 0)
  b.writeUInt32BE(STUN_MAGIC, 4)
  txid.copy(b, 8)
  return b
}

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function stun (init: Parameters<typeof startStunServer>[0] = {}): Promise<StunServer> {
  const s = await startStunServer({ host: '127.0.0.1', port: 0, ...init })
  cleanups.push(async () => { await s.close() })
  return s
}

/** A UDP client on `address` that counts the answers it gets. */
async function client (address: string): Promise<{ socket: Socket, answers: () => number }> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, address, resolve))
  cleanups.push(async () => { socket.close() })
  let n = 0
  socket.on('message', (msg) => { if (msg.readUInt16BE(0) === 0x0101) n++ })
  return { socket, answers: () => n }
}

/** Send `count` requests (each with a transaction id of its own) as fast as the socket takes them; resolves the ms it took. */
async function burst (socket: Socket, port: number, count: number): Promise<number> {
  const start = Date.now()
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => { socket.send(request(randomBytes(12)), port, '127.0.0.1', err => { if (err != null) reject(err); else resolve() }) })
  }
  return Date.now() - start
}

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 500)) }

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

describe('STUN responder rate limits', () => {
  it('a burst from one source gets at most its bucket\'s answers; another source is still answered', async () => {
    let dropped = 0
    let answered = 0
    const s = await stun({ rateLimit: { burst: 5, perSecond: 2 }, onDrop: () => { dropped++ }, onRequest: () => { answered++ } })
    const a = await client('127.0.0.1')
    const took = await burst(a.socket, s.port, 100)
    await settle()
    // 5 at once, plus what 2/s refills while the burst was being sent
    const bound = 5 + Math.ceil((took / 1000) * 2)
    expect(a.answers()).toBeGreaterThanOrEqual(5)
    expect(a.answers()).toBeLessThanOrEqual(bound)
    expect(answered + dropped).toBe(100)
    // another source (127.0.0.2, any 127/8 address is local on Linux) is answered
    const b = await client('127.0.0.2')
    await burst(b.socket, s.port, 3)
    await settle()
    expect(b.answers()).toBe(3)
  }, 30_000)

  it('limits by default: 100 requests at once from one source get at most 20 (and what 5/s refills)', async () => {
    const s = await stun()
    const a = await client('127.0.0.1')
    const took = await burst(a.socket, s.port, 100)
    await settle()
    expect(a.answers()).toBeGreaterThanOrEqual(20)
    expect(a.answers()).toBeLessThanOrEqual(20 + Math.ceil((took / 1000) * 5))
  }, 30_000)

  it('answers are small: 40 bytes to an IPv4 client, 52 to IPv6, for a 20-byte request', () => {
    const tx = { transactionId: randomBytes(12) }
    expect(bindingResponse(tx, '198.51.100.7', 5000).length).toBe(40)
    expect(bindingResponse(tx, '2001:db8::7', 5000).length).toBe(52)
  })
})

import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { SourceRateLimiter, startStunServer, STUN_MAGIC, bindingResponse } from '../../../src/relay/index.ts'
import type { StunServer } from '../../../src/relay/index.ts'

function request (): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16BE(0x0001, 0)
  b.writeUInt32BE(STUN_MAGIC, 4)
  randomBytes(12).copy(b, 8)
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

/** Send `count` requests as fast as the socket takes them; resolves the ms it took. */
async function burst (socket: Socket, port: number, count: number): Promise<number> {
  const start = Date.now()
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => { socket.send(request(), port, '127.0.0.1', err => { if (err != null) reject(err); else resolve() }) })
  }
  return Date.now() - start
}

const settle = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, 500)) }

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

describe('SourceRateLimiter', () => {
  it('refills each source at its rate, caps the total, and never resets a busy source to make room', () => {
    let now = 0
    const r = new SourceRateLimiter({ burst: 2, perSecond: 1, maxSources: 2, totalPerSecond: 5, now: () => now })
    expect([r.allow('a'), r.allow('a'), r.allow('a')]).toEqual([true, true, false])
    now = 1000
    expect([r.allow('a'), r.allow('a')]).toEqual([true, false])
    // the table is full with a busy source and b: c waits rather than evicting a
    expect(r.allow('b')).toBe(true)
    expect(r.allow('c')).toBe(false)
    expect(r.size).toBe(2)
    // once a's and b's buckets are full again they are forgotten and c fits
    now = 4000
    expect(r.allow('c')).toBe(true)
    expect(r.size).toBe(1)
    // the total: 5 a second across sources
    const t = new SourceRateLimiter({ burst: 10, perSecond: 10, totalPerSecond: 5, now: () => now })
    const got = ['p', 'q', 'r', 's', 't', 'u', 'v'].map(src => t.allow(src))
    expect(got.filter(Boolean).length).toBe(5)
  })
})

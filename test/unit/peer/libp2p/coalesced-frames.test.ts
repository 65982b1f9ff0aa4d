/**
 * beam's muxer (src/peer/libp2p/libp2p-options.ts beamMuxer): the frames of
 * one turn leave as one Noise message (coalesced-frames.ts), and a small
 * frame's window update leaves with the stream's next frame (window-updates.ts).
 * Real libp2p nodes over TCP on loopback with beam's transport and Noise.
 *
 * What is counted: beam's TCP transport corks the socket once for every batch
 * of Noise messages it is handed (batched-tcp.ts), so the cork calls on one
 * connection's socket are the writes the muxer made to the connection. Every
 * byte is checked (SHA-256 or equality), so a batching that lost, doubled or
 * reordered a frame fails here too; nothing here asserts a duration.
 */
import { createHash, randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import type { Stream } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { batchedTcp } from '../../../../src/peer/libp2p/batched-tcp.ts'
import { beamMuxer } from '../../../../src/peer/libp2p/libp2p-options.ts'
import { beamNoise } from '../../../../src/peer/libp2p/noise.ts'
import { COALESCE_MAX_BYTES } from '../../../../src/peer/libp2p/coalesced-frames.ts'
import { TUNNEL_PROTOCOL } from '../../../../src/signaling/index.ts'

const ECHO = '/beam-test/echo/1'
const SINK = '/beam-test/sink/1'

async function node (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [batchedTcp()],
    connectionEncrypters: [beamNoise()],
    streamMuxers: [beamMuxer()],
    // no pings, identify pushes or other traffic of its own between the counts
    connectionMonitor: { enabled: false }
  })
}

/** Echoes every message back on the same stream, and closes when the remote has. */
function echo (stream: Stream): void {
  stream.addEventListener('message', (evt) => {
    if (!stream.send(evt.data)) stream.pause()
  })
  stream.addEventListener('drain', () => { stream.resume() })
  stream.addEventListener('remoteCloseWrite', () => { void stream.close().catch(() => {}) })
}

/** Bytes read from a stream until it ends. */
async function readAll (stream: Stream, want: number, chunks: Uint8Array[] = []): Promise<Buffer> {
  let got = 0
  for await (const chunk of stream) {
    chunks.push(chunk.subarray())
    got += chunk.byteLength
    if (got >= want) break
  }
  return Buffer.concat(chunks)
}

async function turnEnd (): Promise<void> {
  await new Promise(resolve => setImmediate(resolve))
}

describe('beam muxer: small frames', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })

  async function pair (): Promise<{ a: Libp2p, b: Libp2p, port: number }> {
    const a = await node()
    const b = await node()
    nodes.push(a, b)
    await b.handle(ECHO, (stream) => { echo(stream) }, { maxInboundStreams: 256 })
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    await a.dial(addr)
    return { a, b, port: Number(/\/tcp\/(\d+)/.exec(addr.toString())?.[1]) }
  }

  /** Cork calls (= writes to the connection) made by the dialler's socket (a → b) and the listener's (b → a). */
  function writesCounter (port: number): () => { a: number, b: number } {
    const cork = vi.spyOn(Socket.prototype, 'cork')
    return () => {
      let a = 0
      let b = 0
      for (const s of cork.mock.contexts as Socket[]) {
        if (s.remotePort === port) a++
        else if (s.localPort === port) b++
      }
      return { a, b }
    }
  }

  it('sends small messages of 16 streams written in one turn as one write, and each stream gets its own bytes back in order', { timeout: 30_000 }, async () => {
    const { a, b, port } = await pair()
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const streams = await Promise.all(Array.from({ length: 16 }, async () => await a.dialProtocol(addr, ECHO, { maxOutboundStreams: 256 })))
    // the streams' opening frames and their answers are done with
    for (const s of streams) s.send(Buffer.from('x'))
    await Promise.all(streams.map(async s => await readAll(s, 1)))
    await turnEnd()
    const writes = writesCounter(port)
    const rounds = 20
    const sent = streams.map(() => [] as Buffer[])
    const back = streams.map(() => [] as Uint8Array[])
    const reading = streams.map(async (s, i) => await readAll(s, rounds * 100, back[i]))
    const perRound: number[] = []
    for (let r = 0; r < rounds; r++) {
      const before = writes().a
      streams.forEach((s, i) => {
        const m = randomBytes(100)
        sent[i]?.push(m)
        s.send(m)
      })
      await turnEnd()
      perRound.push(writes().a - before)
    }
    const got = await Promise.all(reading)
    got.forEach((buf, i) => { expect(buf.equals(Buffer.concat(sent[i] ?? []))).toBe(true) })
    // one write per round for all 16 streams (without the coalescing: 16)
    expect(perRound.every(n => n === 1)).toBe(true)
  })

  it('keeps the order of pipelined messages of every size on one stream, sent in one turn or across turns', { timeout: 60_000 }, async () => {
    const { a, b } = await pair()
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const stream = await a.dialProtocol(addr, ECHO)
    const sizes = [1, 13, 100, 1200, 4095, 4096, 4097, COALESCE_MAX_BYTES - 1, COALESCE_MAX_BYTES, COALESCE_MAX_BYTES + 1, 70_000]
    const parts: Buffer[] = []
    for (let i = 0; i < 1500; i++) parts.push(randomBytes(sizes[(i * 7) % sizes.length] ?? 1))
    const all = Buffer.concat(parts)
    const reading = readAll(stream, all.length)
    let i = 0
    while (i < parts.length) {
      // bursts of 1 to 9 messages in one turn, then the next turn
      const burst = 1 + (i % 9)
      for (const m of parts.slice(i, i + burst)) {
        if (!stream.send(m)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
      }
      i += burst
      if (i % 3 === 0) await turnEnd()
    }
    const back = await reading
    expect(back.length).toBe(all.length)
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(all).digest('hex'))
  })

  it('sends the window update for a small request with the answer: one write each way per request/response', { timeout: 30_000 }, async () => {
    const { a, b, port } = await pair()
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const stream = await a.dialProtocol(addr, ECHO)
    stream.send(Buffer.from('warm-up'))
    await readAll(stream, 7)
    await turnEnd()
    const writes = writesCounter(port)
    const requests = 50
    for (let r = 0; r < requests; r++) {
      const m = randomBytes(64)
      stream.send(m)
      const got = await readAll(stream, 64)
      expect(got.equals(m)).toBe(true)
    }
    await turnEnd()
    const w = writes()
    // without: a data frame and a window update each way, in writes of their own (2 per request)
    expect(w.a).toBeLessThanOrEqual(requests + 1)
    expect(w.b).toBeLessThanOrEqual(requests + 1)
  })

  it('keeps granting window to a stream that only receives small frames (4 MB in 100-byte messages)', { timeout: 60_000 }, async () => {
    const a = await node()
    const b = await node()
    nodes.push(a, b)
    const digest = Promise.withResolvers<{ bytes: number, hash: string }>()
    await b.handle(SINK, async (stream) => {
      const h = createHash('sha256')
      let bytes = 0
      try {
        for await (const chunk of stream) { h.update(chunk.subarray()); bytes += chunk.byteLength }
        digest.resolve({ bytes, hash: h.digest('hex') })
        await stream.close()
      } catch (err) { digest.reject(err) }
    })
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const stream = await a.dialProtocol(addr, SINK)
    const h = createHash('sha256')
    const total = 40_000 * 100
    for (let off = 0; off < total; off += 100) {
      const m = randomBytes(100)
      h.update(m)
      if (!stream.send(m)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
      if (off % 10_000 === 0) await turnEnd()
    }
    await stream.close()
    const seen = await digest.promise
    expect(seen.bytes).toBe(total)
    expect(seen.hash).toBe(h.digest('hex'))
  })

  it('still applies backpressure: a reader that does not read stops a writer of small messages, then gets every byte', { timeout: 60_000 }, async () => {
    const a = await node()
    const b = await node()
    nodes.push(a, b)
    const inbound = Promise.withResolvers<Stream>()
    await b.handle(SINK, (stream) => {
      stream.pause()
      inbound.resolve(stream)
    })
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const stream = await a.dialProtocol(addr, SINK)
    const h = createHash('sha256')
    let written = 0
    let refused = false
    // the far side's window (at most 16 MiB) and the buffers on the way: the
    // writer must be told to wait well before 64 MiB
    while (written < 64 * 1024 * 1024) {
      const m = randomBytes(1000)
      h.update(m)
      written += m.byteLength
      if (!stream.send(m)) { refused = true; break }
      if (written % 100_000 === 0) await turnEnd()
    }
    expect(refused).toBe(true)
    const reader = await inbound.promise
    const readerHash = createHash('sha256')
    let read = 0
    const done = (async () => {
      reader.resume()
      for await (const chunk of reader) { readerHash.update(chunk.subarray()); read += chunk.byteLength }
    })()
    await stream.close()
    await done
    expect(read).toBe(written)
    expect(readerHash.digest('hex')).toBe(h.digest('hex'))
  })

  it('opens a tunnel stream with one write each way: the SYN, the negotiation and the first message; the ACK and both negotiation answers', { timeout: 30_000 }, async () => {
    const { a, b, port } = await pair()
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const requests: string[] = []
    await b.handle(TUNNEL_PROTOCOL, (stream) => {
      stream.addEventListener('message', (evt) => {
        requests.push(Buffer.from(evt.data.subarray()).toString())
        // the answer leaves later, by itself (a share answers after its service connect)
        setTimeout(() => { stream.send(Buffer.from('answer')) }, 20)
      }, { once: true })
    }, { maxInboundStreams: 256 })
    // a first stream of the protocol: identify and the peer store are done with
    const warm = await a.dialProtocol(addr, TUNNEL_PROTOCOL)
    warm.send(Buffer.from('warm'))
    await readAll(warm, 6)
    await turnEnd()
    for (let i = 0; i < 5; i++) {
      const writes = writesCounter(port)
      const stream = await a.dialProtocol(addr, TUNNEL_PROTOCOL)
      // beam's connector sends its request right after newStream, in the same turn
      stream.send(Buffer.from(`request ${i}`))
      expect((await readAll(stream, 6)).toString()).toBe('answer')
      expect(requests.at(-1)).toBe(`request ${i}`)
      await turnEnd()
      // a → b: SYN, the two negotiation lines and the request in one write
      // (before: two); b → a: the ACK, a window update and both answers in
      // one, the handler's answer in another (before: four)
      expect(writes()).toEqual({ a: 1, b: 2 })
      vi.restoreAllMocks()
      stream.abort(new Error('done'))
    }
  })
})

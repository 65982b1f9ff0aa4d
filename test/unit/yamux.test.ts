import { createHash, randomBytes } from 'node:crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import type { Stream, StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { batchedTcp } from '../../src/peer/batched-tcp.ts'
import { beamNoise } from '../../src/peer/noise.ts'
import { beamYamux, thresholdWindowUpdates } from '../../src/peer/yamux.ts'

const ECHO = '/beam-test/echo/1'

async function node (muxer: () => StreamMuxerFactory): Promise<Libp2p> {
  const n = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [batchedTcp()],
    connectionEncrypters: [beamNoise()],
    streamMuxers: [muxer]
  })
  await n.handle(ECHO, async (stream) => {
    for await (const chunk of stream) {
      if (!stream.send(chunk)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
    }
    await stream.close()
  })
  return n
}

async function open (a: Libp2p, b: Libp2p): Promise<Stream> {
  const addr = b.getMultiaddrs()[0]
  if (addr == null) throw new Error('b listens nowhere')
  return await a.dialProtocol(addr, ECHO)
}

/** `count` request/response exchanges of `size` bytes on one stream, each waiting for its echo. */
async function pingPong (stream: Stream, count: number, size: number): Promise<void> {
  const it = stream[Symbol.asyncIterator]()
  for (let i = 0; i < count; i++) {
    stream.send(randomBytes(size))
    let got = 0
    while (got < size) {
      const r = await it.next()
      if (r.done === true) throw new Error('stream ended early')
      got += r.value.byteLength
    }
  }
}

describe('beamYamux: window updates after 8 KiB, not after every frame', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })

  it('sends no window update per small request/response (the stock muxer sends one per frame each way)', { timeout: 30_000 }, async () => {
    const updates = vi.spyOn(YamuxStream.prototype, 'sendWindowUpdate')
    const counts: Record<string, number> = {}
    for (const [name, muxer] of [['stock', yamux()], ['beam', beamYamux()]] as const) {
      const a = await node(muxer)
      const b = await node(muxer)
      nodes.push(a, b)
      const stream = await open(a, b)
      updates.mockClear()
      await pingPong(stream, 200, 300)
      counts[name] = updates.mock.calls.length
      await stream.close()
    }
    expect(counts.stock).toBeGreaterThanOrEqual(400)
    // 200 × 300 bytes = 60,000 each way: at most one update per 8 KiB per side
    expect(counts.beam).toBeLessThanOrEqual(20)
  })

  it('moves 16 MiB each way intact, in bulk and through a reader that stalls', { timeout: 30_000 }, async () => {
    const a = await node(beamYamux())
    const b = await node(beamYamux())
    nodes.push(a, b)
    const data = randomBytes(16 * 1024 * 1024)
    const digest = createHash('sha256').update(data).digest('hex')
    const stream = await open(a, b)
    const back = createHash('sha256')
    let got = 0
    const reading = (async () => {
      // the reader stalls twice (after the first chunk and at 4 MiB): the
      // echo side fills its window and waits, then the window opens again
      // (the iterator is attached from the start: a stream drops what
      // arrives while nothing listens)
      for await (const chunk of stream) {
        const before = got
        back.update(chunk.subarray())
        got += chunk.byteLength
        if (before === 0 || (got > 4 * 1024 * 1024 && before <= 4 * 1024 * 1024)) await new Promise(resolve => setTimeout(resolve, 300))
      }
    })()
    for (let off = 0; off < data.length; off += 100_000) {
      if (!stream.send(data.subarray(off, off + 100_000))) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
    }
    await stream.close()
    await reading
    expect(got).toBe(data.length)
    expect(back.digest('hex')).toBe(digest)
  })

  it('leaves a muxer that is not a yamux muxer alone', () => {
    const other = { protocol: '/other/1', streams: [] } as unknown as StreamMuxer
    expect(thresholdWindowUpdates(other)).toBe(false)
  })
})

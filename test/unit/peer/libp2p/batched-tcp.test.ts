import { createHash, randomBytes } from 'node:crypto'
import { Socket } from 'node:net'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { streamPair } from '@libp2p/utils'
import type { MultiaddrConnection } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { batchedTcp, batchWrites } from '../../../../src/peer/libp2p/batched-tcp.ts'
import { noiseCrypto } from '../../../../src/peer/libp2p/noise-crypto.ts'

const PROTOCOL = '/beam-test/sink/1'

async function node (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [batchedTcp()],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    streamMuxers: [yamux()]
  })
}

describe('batchedTcp: one writev per batch on libp2p TCP connections', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })

  it('carries 8 MiB both ways intact, with every batch written corked (dialler and listener side)', { timeout: 30_000 }, async () => {
    const cork = vi.spyOn(Socket.prototype, 'cork')
    const write = vi.spyOn(Socket.prototype, 'write')
    const a = await node()
    const b = await node()
    nodes.push(a, b)
    const data = randomBytes(8 * 1024 * 1024)
    const digest = createHash('sha256').update(data).digest('hex')
    // b hashes what it reads and sends the same bytes back; the digest is
    // checked in the test body (an expect() thrown inside a libp2p handler is
    // swallowed by libp2p and fails nothing)
    const seenByB = Promise.withResolvers<string>()
    await b.handle(PROTOCOL, async (stream) => {
      const h = createHash('sha256')
      try {
        for await (const chunk of stream) {
          h.update(chunk.subarray())
          if (!stream.send(chunk)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
        }
        await stream.close()
        seenByB.resolve(h.digest('hex'))
      } catch (err) {
        seenByB.reject(err)
      }
    })
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const stream = await a.dialProtocol(addr, PROTOCOL)
    const back = createHash('sha256')
    let got = 0
    const reading = (async () => {
      for await (const chunk of stream) { back.update(chunk.subarray()); got += chunk.byteLength }
    })()
    for (let off = 0; off < data.length; off += 256 * 1024) {
      if (!stream.send(data.subarray(off, off + 256 * 1024))) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
    }
    await stream.close()
    await reading
    expect(got).toBe(data.length)
    expect(back.digest('hex')).toBe(digest)
    expect(await seenByB.promise).toBe(digest)
    // Noise messages go out as a length prefix and the ciphertext pieces:
    // without the batching each is its own write with no cork around it
    expect(cork.mock.calls.length).toBeGreaterThan(50)
    expect(write.mock.calls.length).toBeGreaterThan(cork.mock.calls.length)
  })

  it('leaves a connection that is not a TCP socket connection alone', async () => {
    const [conn] = await streamPair()
    expect(batchWrites(conn as unknown as MultiaddrConnection)).toBe(false)
  })
})

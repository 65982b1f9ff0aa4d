import { createHash, randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { streamPair } from '@libp2p/utils'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import type { ConnectionEncrypter, MessageStream, Stream } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { batchedTcp } from '../../../../src/peer/libp2p/batched-tcp.ts'
import { beamNoise, tuneReceivePath } from '../../../../src/peer/libp2p/noise.ts'
import { noiseCrypto } from '../../../../src/peer/libp2p/noise-crypto.ts'

const PROTOCOL = '/beam-test/echo/1'

type Encrypter = () => (components: never) => ConnectionEncrypter

async function node (encrypter: Encrypter): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [batchedTcp()],
    connectionEncrypters: [encrypter() as never],
    streamMuxers: [yamux()]
  })
}

async function send (stream: Stream, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length; off += 256 * 1024) {
    if (!stream.send(data.subarray(off, off + 256 * 1024))) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
  }
}

/** Sends `data` from a to b and back (b echoes); returns the digest of what came back and how many bytes. */
async function echo (a: Libp2p, b: Libp2p, data: Uint8Array): Promise<{ digest: string, bytes: number, seenByB: string }> {
  let seenByB = ''
  await b.handle(PROTOCOL, async (stream) => {
    const h = createHash('sha256')
    for await (const chunk of stream) {
      h.update(chunk.subarray())
      if (!stream.send(chunk)) await new Promise(resolve => { stream.addEventListener('drain', resolve, { once: true }) })
    }
    seenByB = h.digest('hex')
    await stream.close()
  })
  const addr = b.getMultiaddrs()[0]
  if (addr == null) throw new Error('b listens nowhere')
  const stream = await a.dialProtocol(addr, PROTOCOL)
  const back = createHash('sha256')
  let bytes = 0
  const reading = (async () => {
    for await (const chunk of stream) { back.update(chunk.subarray()); bytes += chunk.byteLength }
  })()
  await send(stream, data)
  await stream.close()
  await reading
  return { digest: back.digest('hex'), bytes, seenByB }
}

describe('beamNoise: Noise without the receive-side copy', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    vi.restoreAllMocks()
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })

  it('carries 8 MiB both ways intact over TCP, and no bulk message is joined into one buffer to decrypt it', { timeout: 30_000 }, async () => {
    const concat = vi.spyOn(Uint8ArrayList.prototype, 'subarray')
    const a = await node(beamNoise)
    const b = await node(beamNoise)
    nodes.push(a, b)
    const data = randomBytes(8 * 1024 * 1024)
    const digest = createHash('sha256').update(data).digest('hex')
    const r = await echo(a, b, data)
    expect(r.bytes).toBe(data.length)
    expect(r.digest).toBe(digest)
    expect(r.seenByB).toBe(digest)
    // subarray(start, end) on a list of pieces copies them into one buffer
    // (the library builds dst that way; the test's own reads call it without
    // arguments); the only ones left are 16-byte tags that a read boundary cut
    const big = concat.mock.calls.filter((args, i) => {
      const list = concat.mock.contexts[i] as Uint8ArrayList
      const [start, end] = args
      return start != null && end != null && [...list].length > 1 && end - start > 1024
    })
    expect(big).toHaveLength(0)
  })

  it('interoperates with the stock Noise both ways (same wire format)', { timeout: 30_000 }, async () => {
    const stock: Encrypter = () => noise({ crypto: noiseCrypto })
    const data = randomBytes(4 * 1024 * 1024 + 12345)
    const digest = createHash('sha256').update(data).digest('hex')
    for (const [x, y] of [[beamNoise, stock], [stock, beamNoise]] as Array<[Encrypter, Encrypter]>) {
      const a = await node(x)
      const b = await node(y)
      nodes.push(a, b)
      const r = await echo(a, b, data)
      expect(r.bytes).toBe(data.length)
      expect(r.digest).toBe(digest)
    }
  })

  it('reads small messages split anywhere, and its length decoder throws one RangeError made once', { timeout: 30_000 }, async () => {
    const components = async (): Promise<never> => ({ privateKey: await generateKeyPair('Ed25519'), logger: defaultLogger(), upgrader: { getStreamMuxers: () => new Map() } }) as never
    const initiator = beamNoise()(await components())
    const responder = beamNoise()(await components())
    const [a, b] = await streamPair()
    const [x, y] = await Promise.all([
      initiator.secureOutbound(a, { skipStreamMuxerNegotiation: true }),
      responder.secureInbound(b, { skipStreamMuxerNegotiation: true })
    ])
    const decoder = (y.connection as unknown as { decoder: { lengthDecoder: (b: Uint8ArrayList) => number } }).decoder
    const errors = [0, 1].map(() => { try { decoder.lengthDecoder(new Uint8ArrayList(new Uint8Array(1))); return null } catch (err) { return err } })
    expect(errors[0]).toBeInstanceOf(RangeError)
    expect(errors[0]).toBe(errors[1])
    expect(decoder.lengthDecoder(new Uint8ArrayList(Uint8Array.of(0x12), Uint8Array.of(0x34, 0)))).toBe(0x1234)
    // many small messages, then a few that need the OpenSSL path and cross 64 KiB
    const messages = [...Array.from({ length: 300 }, (_, i) => randomBytes(1 + (i * 37) % 1500)), randomBytes(70_000), randomBytes(65_519), randomBytes(1200)]
    const want = createHash('sha256').update(Buffer.concat(messages)).digest('hex')
    const got = createHash('sha256')
    let bytes = 0
    const total = messages.reduce((n, m) => n + m.byteLength, 0)
    const done = new Promise<void>(resolve => {
      (y.connection as MessageStream).addEventListener('message', (evt) => {
        got.update(evt.data.subarray()); bytes += evt.data.byteLength
        if (bytes >= total) resolve()
      })
    })
    for (const m of messages) (x.connection as MessageStream).send(m)
    await done
    expect(bytes).toBe(total)
    expect(got.digest('hex')).toBe(want)
  })

  it('leaves a stream that is not a Noise message stream alone', async () => {
    const [stream] = await streamPair()
    const before = (stream as unknown as { decrypt?: unknown }).decrypt
    expect(tuneReceivePath(stream)).toBe(false)
    expect((stream as unknown as { decrypt?: unknown }).decrypt).toBe(before)
  })
})

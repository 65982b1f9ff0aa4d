import { createHash, randomBytes } from 'node:crypto'
import { lpStream, streamPair } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { batchedTcp } from '../../../../src/peer/libp2p/batched-tcp.ts'
import { beamNoise } from '../../../../src/peer/libp2p/noise.ts'
import { optimisticSelect, selectOptimistically } from '../../../../src/peer/libp2p/optimistic-select.ts'
import { yamux } from '@chainsafe/libp2p-yamux'

const ECHO = '/beam-test/echo/1'
const OTHER = '/beam-test/other/1'

async function node (optimistic: string[]): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [batchedTcp()],
    connectionEncrypters: [beamNoise()],
    streamMuxers: [optimisticSelect(yamux(), optimistic)]
  })
}

async function readAll (stream: Stream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(Buffer.from(chunk.subarray()))
  return Buffer.concat(parts)
}

describe('optimistic multistream-select for chosen protocols', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  it('opens streams a stock listener accepts, and the bytes written at once arrive intact', { timeout: 30_000 }, async () => {
    const a = await node([ECHO])
    const b = await node([])
    nodes.push(a, b)
    await b.handle(ECHO, async (stream) => {
      for await (const chunk of stream) stream.send(chunk)
      await stream.close()
    })
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    await a.dial(addr)
    for (let i = 0; i < 5; i++) {
      const data = randomBytes(100_000 + i)
      const stream = await a.dialProtocol(addr, ECHO)
      expect(stream.protocol).toBe(ECHO)
      const reading = readAll(stream)
      stream.send(data)
      await stream.close()
      const back = await reading
      expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'))
    }
  })

  it('a listener without the protocol: the stream fails with UnsupportedProtocolError and the connection stays usable', { timeout: 30_000 }, async () => {
    const a = await node([ECHO])
    const b = await node([])
    nodes.push(a, b)
    let otherStreams = 0
    await b.handle(OTHER, async (stream) => { otherStreams++; await stream.close() })
    const addr = b.getMultiaddrs()[0]
    if (addr == null) throw new Error('b listens nowhere')
    const stream = await a.dialProtocol(addr, ECHO)
    stream.send(new TextEncoder().encode('/beam-test/other/1\n'))
    const err = await readAll(stream).then(() => undefined, (e: Error) => e)
    expect(err?.name).toBe('UnsupportedProtocolError')
    // what was written behind the negotiation reached no handler
    expect(otherStreams).toBe(0)
    const other = await a.dialProtocol(addr, OTHER)
    await other.close()
    expect(a.getConnections(b.peerId)).toHaveLength(1)
  })

  it('strips the answers however they are cut, and passes on what follows them', async () => {
    for (const cut of [1, 2, 3, 7, 1000]) {
      const [local, remote] = await streamPair()
      selectOptimistically(local, ECHO)
      expect(local.protocol).toBe(ECHO)
      // the remote reads the negotiation as a stock listener would
      const lp = lpStream(remote)
      expect(Buffer.from((await lp.read()).subarray()).toString()).toBe('/multistream/1.0.0\n')
      expect(Buffer.from((await lp.read()).subarray()).toString()).toBe(`${ECHO}\n`)
      const raw = lp.unwrap()
      const reading = readAll(local)
      const answer = Buffer.concat([Buffer.from('\x13/multistream/1.0.0\n'), Buffer.from(`${String.fromCharCode(ECHO.length + 1)}${ECHO}\n`), Buffer.from('payload after the answers')])
      for (let i = 0; i < answer.length; i += cut) raw.send(answer.subarray(i, i + cut))
      await raw.close()
      expect((await reading).toString()).toBe('payload after the answers')
    }
  })

  it('a garbled answer aborts the stream', async () => {
    const [local, remote] = await streamPair()
    selectOptimistically(local, ECHO)
    const reading = readAll(local).then(() => undefined, (e: Error) => e)
    remote.send(Buffer.from('\x05hello'))
    const err = await reading
    expect(err?.name).toBe('UnsupportedProtocolError')
  })
})

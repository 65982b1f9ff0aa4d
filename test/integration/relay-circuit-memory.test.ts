/**
 * A relay keeps no copy of what flows through a circuit (src/relay/circuit-join.ts).
 * circuit-relay-v2 joins the two streams with pipe(src, dst, src), which
 * also makes an unread copy of everything the dialer sends; beam's relay
 * drops it. A beam relay node, a destination and a dialer in one process
 * (bare libp2p peers speaking HOP/STOP), on loopback: 64 MiB from the dialer
 * through one circuit must arrive intact without the relay's process holding
 * them afterwards, and the other direction must still work.
 */
import { createHash } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import { createBeam } from 'beam'
import type { Libp2p, Stream } from '@libp2p/interface'
import { HOP_PROTOCOL } from '../../src/relay/index.ts'
import { acceptRelayed, connectVia, rawPeer, reserve, STATUS } from '../helpers/hop-client.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** ArrayBuffer memory of this process after two full collections, in bytes. */
function retainedBuffers (): number {
  gc()
  gc()
  return process.memoryUsage().arrayBuffers
}

async function peer (): Promise<Libp2p> {
  const p = await rawPeer()
  cleanups.push(async () => { await p.stop() })
  return p
}

/** Everything `stream` receives until `bytes` have come: their SHA-256. */
async function receive (stream: Stream, bytes: number, timeoutMs: number): Promise<string> {
  const hash = createHash('sha256')
  let got = 0
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`received ${got} of ${bytes} bytes within ${timeoutMs} ms`)) }, timeoutMs)
    stream.addEventListener('message', (evt: Event) => {
      const data = (evt as Event & { data: Uint8Array | { subarray: () => Uint8Array } }).data
      const chunk = data instanceof Uint8Array ? data : data.subarray()
      hash.update(chunk)
      got += chunk.byteLength
      if (got >= bytes) { clearTimeout(timer); resolve(hash.digest('hex')) }
    })
  })
}

/** Send `mib` MiB of a counting pattern in 64 KiB chunks, waiting on drain; resolves their SHA-256. */
async function send (stream: Stream, mib: number): Promise<string> {
  const hash = createHash('sha256')
  for (let i = 0; i < mib * 16; i++) {
    const chunk = new Uint8Array(64 * 1024).fill(i & 0xff)
    hash.update(chunk)
    if (!stream.send(chunk)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
  }
  return hash.digest('hex')
}

describe('relay circuit memory', () => {
  it('64 MiB through one circuit arrive intact and the relay keeps no copy of them; the way back still works', async () => {
    const relay = await createBeam({ dht: false, listen: ['/ip4/127.0.0.1/tcp/0'], relayServer: {}, transports: { webrtc: false } })
    cleanups.push(async () => { await relay.stop() })
    const addr = `${relay.getMultiaddrs().map(m => m.toString()).find(a => a.startsWith('/ip4/127.0.0.1/tcp/')) ?? ''}/p2p/${relay.peerId.toString()}`
    const dest = await peer()
    const held = await acceptRelayed(dest)
    expect(await reserve(dest, addr)).toBe(STATUS.OK)
    const dialer = await peer()
    const { status, stream } = await connectVia(dialer, addr, dest.peerId)
    expect(status).toBe(STATUS.OK)
    for (let i = 0; i < 50 && held.length === 0; i++) await new Promise(resolve => setTimeout(resolve, 100))
    const far = held[0]
    if (far == null) throw new Error('the destination got no relayed stream')

    // the relay's end of the circuit from the dialer: one reader of its messages, the pipe's
    const hopStream = relay.libp2p.getConnections(dialer.peerId).flatMap(c => c.streams).find(s => s.protocol === HOP_PROTOCOL)
    expect(hopStream?.listenerCount('message')).toBe(1)

    const before = retainedBuffers()
    const arrived = receive(far, 64 * 1024 * 1024, 60_000)
    const sent = await send(stream, 64)
    expect(await arrived).toBe(sent)
    // with the library's unread copy the relay held all 64 MiB here, for as long as the circuit lived
    const grown = retainedBuffers() - before
    expect(grown, `ArrayBuffer memory grew ${(grown / 1048576).toFixed(1)} MiB`).toBeLessThan(16 * 1024 * 1024)

    // and back: the destination's bytes reach the dialer through the same circuit
    const back = receive(stream, 4 * 1024 * 1024, 30_000)
    const sentBack = await send(far, 4)
    expect(await back).toBe(sentBack)
  }, 120_000)
})

import { createHash, randomBytes } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createBeam, newAccessSecret, decodeConnectString, encodeConnectString } from 'beam'
import type { BeamNode, ConnectTunnel } from 'beam'
import { startTcpService, tcpConnect, readAll } from '../helpers/services.ts'

// Many new tunnel connections through one share and one connector, in one
// process over loopback TCP: every byte comes back, libp2p's per-stream work
// stays per peer where it can (peer-store writes), and the share's access
// check still refuses a wrong secret from a peer whose tunnels it serves.

const CONNECTIONS = 96
const PARALLEL = 16

/** Counts the peer-store records written to a node's datastore (what a per-stream `peerStore.merge` costs). */
function countPeerWrites (node: BeamNode): () => number {
  const shape = node.libp2p.peerStore as unknown as { store: { datastore: { put: (key: { toString: () => string }, ...rest: unknown[]) => unknown } } }
  const datastore = shape.store.datastore
  const put = datastore.put.bind(datastore)
  let writes = 0
  datastore.put = (key, ...rest) => {
    if (key.toString().startsWith('/peers/')) writes++
    return put(key, ...rest)
  }
  return () => writes
}

describe('new tunnel connections', () => {
  let sharer: BeamNode
  let connector: BeamNode
  let tunnel: ConnectTunnel
  const secret = newAccessSecret()
  let echo: Awaited<ReturnType<typeof startTcpService>>

  beforeAll(async () => {
    echo = await startTcpService(s => { s.pipe(s) })
    sharer = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, transports: { webrtc: false, quic: false } })
    connector = await createBeam({ dht: false, transports: { webrtc: false, quic: false } })
    await sharer.share({ services: [{ port: echo.port }], access: { mode: 'secret', secret } })
    tunnel = await connector.connect(sharer.connectString(secret), { signal: AbortSignal.timeout(20_000) })
  }, 60_000)

  afterAll(async () => {
    await tunnel?.close()
    await connector?.stop()
    await sharer?.stop()
    await echo?.close()
  })

  it(`carries ${CONNECTIONS} new connections, ${PARALLEL} at a time, byte for byte, with no peer-store write per stream`, async () => {
    // the first tunnel stream stores the protocol on both sides; count after it
    const first = await tcpConnect(tunnel.port)
    first.end('warm')
    expect((await readAll(first, 20_000)).data.toString()).toBe('warm')
    const shareWrites = countPeerWrites(sharer)
    const connectWrites = countPeerWrites(connector)
    let next = 0
    const failures: string[] = []
    async function worker (): Promise<void> {
      while (next < CONNECTIONS) {
        const i = next++
        const payload = randomBytes(1 + (i * 7919) % 40_000)
        const s = await tcpConnect(tunnel.port)
        s.end(payload)
        const { data, error } = await readAll(s, 30_000)
        if (error != null) failures.push(`#${i}: ${error.message}`)
        else if (createHash('sha256').update(data).digest('hex') !== createHash('sha256').update(payload).digest('hex')) failures.push(`#${i}: ${data.byteLength} of ${payload.byteLength} bytes, or different ones`)
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, async () => { await worker() }))
    expect(failures).toEqual([])
    // libp2p 3.3 writes the peer's record on both sides for every stream (one
    // per connection here); what is left is other traffic (a ping, identify)
    expect(shareWrites()).toBeLessThanOrEqual(4)
    expect(connectWrites()).toBeLessThanOrEqual(4)
  }, 120_000)

  it('still refuses a wrong secret from a connector whose tunnels it serves, every time', async () => {
    const wrong = encodeConnectString({ ...decodeConnectString(sharer.connectString(secret)), secret: newAccessSecret() })
    for (let i = 0; i < 3; i++) {
      await expect(connector.connect(wrong, { signal: AbortSignal.timeout(20_000) })).rejects.toMatchObject({ name: 'TunnelRefusedError' })
    }
    // the share closed the connection after the third failure (its cap on
    // failed handshakes); the tunnel with the right secret dials again and works
    let echoed = ''
    for (let i = 0; i < 40 && echoed !== 'after refusals'; i++) {
      if (i > 0) await new Promise(resolve => setTimeout(resolve, 250))
      const s = await tcpConnect(tunnel.port)
      s.end('after refusals')
      echoed = (await readAll(s, 20_000)).data.toString()
    }
    expect(echoed).toBe('after refusals')
  }, 60_000)
})

/**
 * A relay sends a circuit to the destination's newest connection (the one it
 * reserved over last), not to an older one that went silent: a share that
 * moved to a new address reserves again from there while its connection from
 * the old address still looks open to the relay. Here the old connection
 * runs through a TCP forwarder on loopback that stops forwarding (as a
 * network the share left does), in one process, with bare libp2p peers.
 */
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createBeam } from 'beam'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'
import { HOP_PROTOCOL, parseHopHeader } from '../../src/relay/index.ts'
import { acceptRelayed, connectVia, rawPeer, readMessage, reserve, STATUS } from '../helpers/hop-client.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

/** A TCP forwarder on 127.0.0.1 to `port`; `freeze()` stops carrying bytes and keeps every socket open. */
async function forwarder (port: number): Promise<{ port: number, freeze: () => void }> {
  let frozen = false
  const sockets: net.Socket[] = []
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    sockets.push(client, upstream)
    client.on('data', (b) => { if (!frozen) upstream.write(b) })
    upstream.on('data', (b) => { if (!frozen) client.write(b) })
    client.on('error', () => {})
    upstream.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise(resolve => server.close(resolve))
  })
  return { port: (server.address() as net.AddressInfo).port, freeze: () => { frozen = true } }
}

async function peer (): Promise<Libp2p> {
  const p = await rawPeer()
  cleanups.push(async () => { await p.stop() })
  return p
}

describe('relay destination connection', () => {
  it('a circuit goes over the connection the destination reserved over last, not an older silent one', async () => {
    const relay = await createBeam({ dht: false, listen: ['/ip4/127.0.0.1/tcp/0'], relayServer: {}, transports: { webrtc: false } })
    cleanups.push(async () => { await relay.stop() })
    const id = relay.peerId.toString()
    const direct = relay.getMultiaddrs().map(m => m.toString()).find(a => a.startsWith('/ip4/127.0.0.1/tcp/')) ?? ''
    expect(direct).not.toBe('')
    const fwd = await forwarder(Number(/\/tcp\/(\d+)/.exec(direct)?.[1]))

    // the destination: first connected and reserved through the forwarder (its "old address")
    const dest = await peer()
    await acceptRelayed(dest)
    expect(await reserve(dest, `/ip4/127.0.0.1/tcp/${fwd.port}/p2p/${id}`)).toBe(STATUS.OK)
    // then a second connection (its "new address"), and a reservation over it
    const fresh = await dest.dial(multiaddr(`${direct}/p2p/${id}`), { force: true, signal: AbortSignal.timeout(10_000) })
    const stream = await fresh.newStream(HOP_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    stream.send(Uint8Array.from([2, 0x08, 0x00]))
    const answer = await readMessage(stream)
    expect(answer != null ? parseHopHeader(answer)?.status : undefined).toBe(STATUS.OK)
    await stream.close().catch(() => {})
    expect(relay.libp2p.getConnections(dest.peerId)).toHaveLength(2)
    // the old path goes silent: the relay still sees that connection open
    fwd.freeze()

    const dialer = await peer()
    const start = Date.now()
    const { status } = await connectVia(dialer, `${direct}/p2p/${id}`, dest.peerId)
    const ms = Date.now() - start
    expect(status, `answered after ${ms} ms`).toBe(STATUS.OK)
    // over the live connection this is a round trip on loopback; over the
    // silent one it waited for the relay's connection monitor or its 30 s hop timeout
    expect(ms).toBeLessThan(5000)
  }, 40_000)

  it('a circuit waiting on a silent connection moves to one the destination opens meanwhile', async () => {
    const relay = await createBeam({ dht: false, listen: ['/ip4/127.0.0.1/tcp/0'], relayServer: {}, transports: { webrtc: false } })
    cleanups.push(async () => { await relay.stop() })
    const id = relay.peerId.toString()
    const direct = relay.getMultiaddrs().map(m => m.toString()).find(a => a.startsWith('/ip4/127.0.0.1/tcp/')) ?? ''
    const fwd = await forwarder(Number(/\/tcp\/(\d+)/.exec(direct)?.[1]))
    const dest = await peer()
    await acceptRelayed(dest)
    expect(await reserve(dest, `/ip4/127.0.0.1/tcp/${fwd.port}/p2p/${id}`)).toBe(STATUS.OK)
    // the destination's only connection goes silent, and a CONNECT comes in
    fwd.freeze()
    const dialer = await peer()
    const start = Date.now()
    const asked = connectVia(dialer, `${direct}/p2p/${id}`, dest.peerId)
    // a second later the destination is back on a new connection (its reservation still stands)
    await new Promise(resolve => setTimeout(resolve, 1000))
    await dest.dial(multiaddr(`${direct}/p2p/${id}`), { force: true, signal: AbortSignal.timeout(10_000) })
    const { status } = await asked
    const ms = Date.now() - start
    expect(status, `answered after ${ms} ms`).toBe(STATUS.OK)
    expect(ms).toBeLessThan(6000)
  }, 40_000)
})

import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { describe, it, expect, afterEach } from 'vitest'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import type { Connection, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { lpStream } from '@libp2p/utils'
import { createBeam, newAccessSecret, TUNNEL_PROTOCOL, ShareOverloadedError, ServiceUnavailableError, TunnelRefusedError } from 'beam'
import type { AccessPolicy, BeamNode, ConnectTunnel, ConnectTunnelFailedEvent, ServiceUnavailableEvent } from 'beam'
import { encodeRequest } from '../../src/signaling/index.ts'
import { startTcpService, tcpConnect, readAll, block } from '../helpers/services.ts'

// A share under a peer that does not play by the rules, in one process over
// loopback TCP: the share must bound what such a peer holds (handshakes that
// never come, tunnels past a cap, access proofs that keep failing) and keep
// serving the peers it authorizes.

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function beam (listen: string[] = []): Promise<BeamNode> {
  const n = await createBeam({ listen, dht: false, transports: { webrtc: false, quic: false } })
  cleanups.push(async () => { await n.stop() })
  return n
}

/** A stock libp2p node (TCP, Noise, yamux) that speaks no beam: it only opens streams. */
async function rawNode (): Promise<Libp2p> {
  const n = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ maxInboundStreams: 10_000, maxOutboundStreams: 10_000 })],
    // loopback only: the default gater refuses private addresses
    connectionGater: { denyDialMultiaddr: () => false }
  })
  cleanups.push(async () => { await n.stop() })
  return n
}

async function echoService (): Promise<number> {
  const svc = await startTcpService(s => { s.pipe(s) })
  cleanups.push(svc.close)
  return svc.port
}

/** Send `mib` MiB through a tunnel's local port to an echo service; resolves whether the SHA-256 of what came back matches. */
async function echoThrough (port: number, seed: number, mib: number): Promise<boolean> {
  const s = await tcpConnect(port)
  const sent = createHash('sha256')
  for (let i = 0; i < mib; i++) { const b = block(seed, i); sent.update(b); s.write(b) }
  s.end()
  const { data, error } = await readAll(s, 30_000)
  return error == null && createHash('sha256').update(data).digest('hex') === sent.digest('hex')
}

/** A local client that holds its tunnel open until `close` is called; resolves once an echo came back through it. */
async function holdTunnel (port: number): Promise<{ close: () => void }> {
  const s = await tcpConnect(port)
  s.on('error', () => {})
  s.write('hold')
  await new Promise<void>((resolve, reject) => {
    s.once('data', () => { resolve() })
    s.once('close', () => { reject(new Error('the held tunnel closed')) })
  })
  cleanups.push(async () => { s.destroy() })
  return { close: () => { s.end() } }
}

async function nextFailure (tunnel: ConnectTunnel, timeoutMs = 10_000): Promise<ConnectTunnelFailedEvent> {
  return await new Promise((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`no tunnel:failed within ${timeoutMs} ms`)) }, timeoutMs)
    tunnel.once('tunnel:failed', e => { clearTimeout(t); resolve(e) })
  })
}

async function until (what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe('a share under a stream flood', () => {
  it.each<['secret' | 'public']>([['secret'], ['public']])('%s share: a peer that opens thousands of tunnel streams and sends nothing is held to its cap and then cut off, and an authorized connector moves bytes meanwhile', { timeout: 60_000 }, async (mode) => {
    const port = await echoService()
    const sharer = await beam(LOOPBACK)
    const secret = newAccessSecret()
    const access: AccessPolicy = mode === 'secret' ? { mode, secret } : { mode }
    const handshakeTimeout = 4000
    const share = await sharer.share({ services: [{ port }], access, handshakeTimeout })
    const connectString = sharer.connectString(mode === 'secret' ? secret : undefined)

    const connector = await beam()
    const tunnel = await connector.connect(connectString, { signal: AbortSignal.timeout(15_000) })

    const flooder = await rawNode()
    const addr = sharer.getMultiaddrs()[0]
    if (addr == null) throw new Error('the share listens nowhere')
    const conn: Connection = await flooder.dial(addr)
    // streams opened before the share's side of the connection is set up are
    // "early streams", and more than 10 of them make libp2p itself drop it
    await new Promise(resolve => setTimeout(resolve, 300))

    // a stream the share ends well before its handshake timeout was turned away at once
    const FLOOD = 2000
    const QUICK = handshakeTimeout / 2
    let turnedAway = 0
    await Promise.all(Array.from({ length: FLOOD }, async () => {
      let s: Stream
      try {
        s = await conn.newStream(TUNNEL_PROTOCOL, { maxOutboundStreams: 100_000, signal: AbortSignal.timeout(20_000) })
      } catch {
        turnedAway++
        return
      }
      if (s.status !== 'open') { turnedAway++; return }
      const openedAt = Date.now()
      s.addEventListener('close', () => { if (Date.now() - openedAt < QUICK) turnedAway++ })
    }))

    // meanwhile the authorized connector's tunnels carry bytes, intact
    const results = await Promise.all([1, 2, 3].map(async seed => await echoThrough(tunnel.port, seed, 2)))
    expect(results).toEqual([true, true, true])

    // at most the per-peer cap (64) of the flood waits for a request; the rest was reset at once
    await until(`the share resets all but 64 of ${FLOOD} silent streams at once`, () => turnedAway >= FLOOD - 64, 10_000)
    expect(share.pendingHandshakes).toBeLessThanOrEqual(64)

    // the silent streams time out, which counts against their connection: the share closes it
    await until('the share closes the flooding connection', () => conn.status !== 'open', handshakeTimeout + 5000)
    expect(flooder.getConnections(sharer.peerId)).toHaveLength(0)

    // and the authorized connector still works
    expect(await echoThrough(tunnel.port, 9, 4)).toBe(true)
    expect(connector.libp2p.getConnections(sharer.peerId).some(c => c.status === 'open')).toBe(true)
  })

  it('caps handshakes in progress over all peers, and a peer under its cap gets through again once the flood is gone', { timeout: 60_000 }, async () => {
    const port = await echoService()
    const sharer = await beam(LOOPBACK)
    const handshakeTimeout = 1500
    const share = await sharer.share({ services: [{ port }], access: { mode: 'public' }, handshakeTimeout, maxPendingHandshakesPerPeer: 8, maxPendingHandshakes: 12 })
    const addr = sharer.getMultiaddrs()[0]
    if (addr == null) throw new Error('the share listens nowhere')
    const flooders = [await rawNode(), await rawNode()]
    let held = 0
    await Promise.all(flooders.map(async f => {
      const conn = await f.dial(addr)
      await new Promise(resolve => setTimeout(resolve, 300))
      await Promise.all(Array.from({ length: 50 }, async () => {
        const s = await conn.newStream(TUNNEL_PROTOCOL, { maxOutboundStreams: 1000 }).catch(() => undefined)
        if (s == null) return
        await new Promise(resolve => setTimeout(resolve, 300))
        if (s.status === 'open') held++
      })
      )
    }))
    // 8 of one peer and 4 of the other: the total of 12
    expect(held).toBe(12)
    expect(share.pendingHandshakes).toBe(12)
    // the flood times out; its connections are closed; a connector gets in
    await until('the silent streams time out', () => share.pendingHandshakes === 0, handshakeTimeout + 3000)
    const connector = await beam()
    const tunnel = await connector.connect(sharer.connectString(), { signal: AbortSignal.timeout(15_000) })
    expect(await echoThrough(tunnel.port, 4, 1)).toBe(true)
  })
})

describe('caps on open tunnels', () => {
  it('answers OVERLOADED past the per-peer and the total cap; the connector reports ShareOverloadedError; a freed slot is usable again', { timeout: 60_000 }, async () => {
    const port = await echoService()
    const sharer = await beam(LOOPBACK)
    const secret = newAccessSecret()
    await sharer.share({ services: [{ port }], access: { mode: 'secret', secret }, maxTunnelsPerPeer: 2, maxTunnels: 3 })
    const cs = sharer.connectString(secret)

    const a = await (await beam()).connect(cs, { signal: AbortSignal.timeout(15_000) })
    const a1 = await holdTunnel(a.port)
    await holdTunnel(a.port)
    // a's third: its own cap
    const failing = nextFailure(a)
    const c = await tcpConnect(a.port)
    c.on('error', () => {})
    const failure = await failing
    expect(failure.error).toBeInstanceOf(ShareOverloadedError)
    expect(failure.error.name).toBe('ShareOverloadedError')
    expect(failure.error.message).toMatch(/^the share is overloaded: too many tunnels from this peer \(at most 2 at once\)/)
    const { data } = await readAll(c, 10_000)
    expect(data.length).toBe(0)

    // b: one tunnel (3 in all), then the share's total
    const b = await (await beam()).connect(cs, { signal: AbortSignal.timeout(15_000) })
    await holdTunnel(b.port)
    const failingB = nextFailure(b)
    ;(await tcpConnect(b.port)).on('error', () => {})
    const failureB = await failingB
    expect(failureB.error).toBeInstanceOf(ShareOverloadedError)
    expect(failureB.error.message).toMatch(/too many tunnels open \(at most 3 at once\)/)

    // a new connector is told at start-up, before it binds a port
    const third = await beam()
    await expect(third.connect(cs, { signal: AbortSignal.timeout(15_000) })).rejects.toThrow(ShareOverloadedError)

    // one of a's tunnels closes: a can open one again
    a1.close()
    let ok = false
    for (let i = 0; i < 40 && !ok; i++) {
      ok = await echoThrough(a.port, 5, 1)
      if (!ok) await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(ok).toBe(true)
  })

  it('the benchmark protocol takes tunnel slots too: past the cap it answers OVERLOADED', { timeout: 60_000 }, async () => {
    const port = await echoService()
    const sharer = await beam(LOOPBACK)
    await sharer.share({ services: [{ port }], access: { mode: 'public' }, maxTunnels: 1 })
    const a = await (await beam()).connect(sharer.connectString(), { signal: AbortSignal.timeout(15_000) })
    await holdTunnel(a.port)
    const bencher = await beam()
    await expect(bencher.benchmark(sharer.connectString(), { backends: ['tcp'], durationMs: 200, pings: 2, signal: AbortSignal.timeout(20_000) }))
      .rejects.toThrow(ShareOverloadedError)
  })
})

describe('failed access proofs', () => {
  it('a connector with a wrong secret gets the clear refusal; after 3 failed handshakes the share closes the connection', { timeout: 60_000 }, async () => {
    const port = await echoService()
    const sharer = await beam(LOOPBACK)
    const secret = newAccessSecret()
    const share = await sharer.share({ services: [{ port }], access: { mode: 'secret', secret } })
    const refused: string[] = []
    share.on('refused', e => { refused.push(e.reason) })
    const wrong = sharer.connectString(newAccessSecret())
    const connector = await beam()
    // a connector with a wrong secret: the clear refusal, and its connection stays for now
    await expect(connector.connect(wrong, { signal: AbortSignal.timeout(15_000) })).rejects.toThrow(TunnelRefusedError)
    expect(connector.libp2p.getConnections(sharer.peerId).filter(c => c.status === 'open')).toHaveLength(1)
    await expect(connector.connect(wrong, { signal: AbortSignal.timeout(15_000) })).rejects.toThrow(/wrong access secret/)
    // the third refusal still reaches the connector in full; then the connection is closed
    await expect(connector.connect(wrong, { signal: AbortSignal.timeout(15_000) })).rejects.toThrow(TunnelRefusedError)
    await until('the share closes the connection of a peer that keeps failing', () => connector.libp2p.getConnections(sharer.peerId).every(c => c.status !== 'open'), 5000)
    expect(refused).toHaveLength(3)
    // the right secret still works (a new connection)
    const tunnel = await connector.connect(sharer.connectString(secret), { signal: AbortSignal.timeout(15_000) })
    expect(await echoThrough(tunnel.port, 6, 1)).toBe(true)
  })

  it('an allow-list share closes the connection of a peer that keeps asking, over raw requests and benchmark requests alike', { timeout: 60_000 }, async () => {
    const port = await echoService()
    const sharer = await beam(LOOPBACK)
    const friend = await beam()
    await sharer.share({ services: [{ port }], access: { mode: 'allow', peers: [friend.peerId.toString()] } })
    const stranger = await beam()
    await expect(stranger.benchmark(sharer.connectString(), { backends: ['tcp'], durationMs: 200, pings: 2, signal: AbortSignal.timeout(20_000) }))
      .rejects.toThrow(TunnelRefusedError)
    // the benchmark closed its own connection: two more refusals on one connection
    const addr = sharer.getMultiaddrs()[0]
    if (addr == null) throw new Error('the share listens nowhere')
    const conn = await stranger.libp2p.dial(addr)
    for (let i = 0; i < 3; i++) {
      if (conn.status !== 'open') break
      const s = await conn.newStream(TUNNEL_PROTOCOL, { runOnLimitedConnection: true })
      const lp = lpStream(s)
      await lp.write(encodeRequest({ port: 0, probe: true }))
      const res = await lp.read({ signal: AbortSignal.timeout(5000) })
      expect(res.subarray()[1]).toBe(1) // UNAUTHORIZED
    }
    await until('the share closes the stranger\'s connection', () => conn.status !== 'open', 5000)
    // the friend is unaffected
    const tunnel = await friend.connect(sharer.connectString(), { signal: AbortSignal.timeout(15_000) })
    expect(await echoThrough(tunnel.port, 7, 1)).toBe(true)
  })
})

describe('an unavailable service', () => {
  async function closedPort (): Promise<number> {
    const srv = createServer()
    await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
    const p = (srv.address() as AddressInfo).port
    await new Promise<void>(resolve => srv.close(() => { resolve() }))
    return p
  }

  it.each<[string]>([['127.0.0.1'], ['localhost']])('shared as %s:<closed port>: the connector learns that the service is unavailable, not where it runs; the share keeps the detail', { timeout: 60_000 }, async (host) => {
    const port = await closedPort()
    const sharer = await beam(LOOPBACK)
    const share = await sharer.share({ services: [{ host, port }], access: { mode: 'public' } })
    const local: ServiceUnavailableEvent[] = []
    share.on('service:unavailable', e => { local.push(e) })
    const tunnel = await (await beam()).connect(sharer.connectString(), { signal: AbortSignal.timeout(15_000) })
    const failing = nextFailure(tunnel)
    const c = await tcpConnect(tunnel.port)
    c.on('error', () => {})
    const { error } = await failing
    expect(error).toBeInstanceOf(ServiceUnavailableError)
    expect(error.message).toMatch(/^the shared service is unavailable: /)
    for (const secret of [host, String(port), '127.0.0.1', '::1', 'localhost', 'ECONNREFUSED']) expect(error.message).not.toContain(secret)
    // the share's own event has it all
    expect(local).toHaveLength(1)
    expect(local[0]?.port).toBe(port)
    expect(local[0]?.reason).toContain(String(port))
  })
})

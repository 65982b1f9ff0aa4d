import { createServer, connect } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBeam, encodeConnectString } from 'beam'
import type { BeamNode, ConnectTunnel } from 'beam'
import { startDelayProxy } from '../../bench/lib/delay-proxy.ts'
import type { DelayProxy } from '../../bench/lib/delay-proxy.ts'

// Round trips of a new tunnel connection, counted over a slow link: the
// connector reaches the share through a proxy that holds every chunk DELAY ms
// each way. A new tunnel connection sends the tunnel request (negotiated
// optimistically, no multistream-select round trip) with whatever the client
// has written, and the client's bytes that come while the answer is on its
// way follow at once: the service's first byte reaches a client that speaks
// first after one link round trip plus the service's time, not three.

const DELAY = 150
const RTT = 2 * DELAY

async function listen (server: Server): Promise<number> {
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return (server.address() as AddressInfo).port
}

/** Connects to the tunnel, waits `writeAfterMs`, writes `hello`, and resolves with the ms from connect to the first byte back and that byte's text. */
async function firstAnswer (port: number, writeAfterMs: number | null): Promise<{ ms: number, text: string }> {
  return await new Promise((resolve, reject) => {
    const start = performance.now()
    const s: Socket = connect({ host: '127.0.0.1', port })
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer in 10 s')) }, 10_000)
    s.on('connect', () => {
      if (writeAfterMs == null) return
      setTimeout(() => { s.write('hello\n') }, writeAfterMs)
    })
    s.once('data', (d: Buffer) => {
      clearTimeout(timer)
      resolve({ ms: performance.now() - start, text: d.toString() })
      s.destroy()
    })
    s.on('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

describe('round trips of a new tunnel connection over a slow link', () => {
  let sharer: BeamNode
  let connector: BeamNode
  let proxy: DelayProxy
  let tunnel: ConnectTunnel
  let echo: Server
  let banner: Server
  let bannerTunnel: ConnectTunnel

  beforeAll(async () => {
    // a service that answers what it reads, and one that speaks first
    echo = createServer(s => { s.on('data', d => { s.write(`echo ${d.toString()}`) }); s.on('error', () => {}) })
    banner = createServer(s => { s.write('banner\n'); s.on('error', () => {}) })
    const echoPort = await listen(echo)
    const bannerPort = await listen(banner)
    sharer = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], transports: { webrtc: false, quic: false }, dht: false })
    connector = await createBeam({ transports: { webrtc: false, quic: false }, dht: false })
    await sharer.share({ services: [{ port: echoPort }, { port: bannerPort }], access: { mode: 'public' } })
    const tcp = sharer.getMultiaddrs().map(a => /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/.exec(a.toString())).find(m => m != null)
    if (tcp == null) throw new Error('the share listens on no loopback TCP address')
    proxy = await startDelayProxy(Number(tcp[1]), DELAY)
    const cs = encodeConnectString({ peerId: sharer.peerId, multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${proxy.port}`)] })
    tunnel = await connector.connect(cs, { remotePort: echoPort, signal: AbortSignal.timeout(30_000) })
    bannerTunnel = await connector.connect(cs, { remotePort: bannerPort, signal: AbortSignal.timeout(30_000) })
  }, 60_000)

  afterAll(async () => {
    await tunnel?.close()
    await bannerTunnel?.close()
    await connector?.stop()
    await sharer?.stop()
    await proxy?.close()
    echo?.close()
    banner?.close()
  })

  it('a client that writes at once has its answer after one link round trip (under one and a half)', { timeout: 30_000 }, async () => {
    const times: number[] = []
    for (let i = 0; i < 3; i++) {
      const r = await firstAnswer(tunnel.port, 0)
      expect(r.text).toBe('echo hello\n')
      times.push(r.ms)
    }
    // three round trips before early data, two before the optimistic select
    // and the forwarding of late bytes; the best of three must be under 1.5
    expect(Math.min(...times)).toBeLessThan(1.5 * RTT)
  })

  it('a client that writes after the request has left still saves the round trip (its bytes follow the request)', { timeout: 30_000 }, async () => {
    const times: number[] = []
    for (let i = 0; i < 3; i++) {
      // 50 ms after connecting: the tunnel request is on the link by then
      const r = await firstAnswer(tunnel.port, 50)
      expect(r.text).toBe('echo hello\n')
      times.push(r.ms - 50)
    }
    // from the client's write: one round trip when its bytes follow the
    // request at once, close to two when they wait for the share's answer
    expect(Math.min(...times)).toBeLessThan(1.5 * RTT)
  })

  it('a service that speaks first reaches a client that writes nothing', { timeout: 30_000 }, async () => {
    const r = await firstAnswer(bannerTunnel.port, null)
    expect(r.text).toBe('banner\n')
  })
})

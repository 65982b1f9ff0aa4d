/**
 * Issue 20, item 7: a connector reaching a share on the same machine that
 * listens as `beam share` does by default (TCP and QUIC on every interface)
 * dials one loopback TCP address, not every address of the connect string,
 * and never builds its QUIC transport for it. Real beam nodes; the share
 * listens on 0.0.0.0, so its addresses are 127.0.0.1 and this machine's own
 * interface addresses (traffic to them never leaves the host).
 */
import { need, suiteNeeds } from '../helpers/require-tools.ts'
import { lanIp, transports } from '../helpers/same-host.ts'
import { afterEach, describe, expect, it } from 'vitest'
import { createBeam } from 'beam'
import type { BeamNode } from 'beam'
import { expectedHash, httpGet, startHttpService } from '../helpers/services.ts'

const nodes: BeamNode[] = []
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  for (const c of cleanups.splice(0)) await c()
})

describe('a connector to a share on this machine', () => {
  it.skipIf(suiteNeeds('same-host dial test', need(lanIp != null, 'this machine has no non-loopback IPv4 address')))('dials one loopback TCP address of the default listen set, not all of them, and leaves QUIC unbuilt', async () => {
    const http = await startHttpService()
    cleanups.push(async () => { await http.close() })
    const share = await createBeam({ listen: ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/quic-v1'], transports: { webrtc: false }, dht: false, iceServers: [] })
    nodes.push(share)
    await share.share({ services: [{ port: http.port }], access: { mode: 'public' } })
    const cs = share.connectString()
    // the connect string offers loopback and the interface address, TCP and QUIC
    const offered = share.getMultiaddrs().map(String)
    expect(offered.some(a => a.includes(`/ip4/${lanIp ?? ''}/tcp/`))).toBe(true)
    expect(offered.some(a => a.includes('/quic-v1'))).toBe(true)

    const connector = await createBeam({ transports: { webrtc: false }, dht: false, iceServers: [] })
    nodes.push(connector)
    const quic = transports(connector).find(t => t[Symbol.toStringTag] === '@chainsafe/libp2p-quic')
    expect(quic, 'QUIC is a stand-in on a node that does not listen on it').toBeDefined()
    const tunnel = await connector.connect(cs, { signal: AbortSignal.timeout(20_000), upgrade: false })
    expect((await httpGet(tunnel.port, '/download?mib=1&seed=71', 20_000)).sha256).toBe(expectedHash(71, 1))
    // give dials that started late time to land, then count
    await new Promise(resolve => setTimeout(resolve, 1000))
    const inbound = share.libp2p.getConnections(connector.peerId).map(c => c.remoteAddr.toString())
    expect(inbound).toHaveLength(1)
    expect(connector.libp2p.getConnections(share.peerId).map(c => c.remoteAddr.toString())).toEqual([expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\//)])
    expect(quic?.loaded).toBe(false)
    await tunnel.close()
  }, 60_000)

  it('still reaches a share over QUIC alone, building QUIC on that first dial', async () => {
    const http = await startHttpService()
    cleanups.push(async () => { await http.close() })
    const share = await createBeam({ listen: ['/ip4/127.0.0.1/udp/0/quic-v1'], transports: { webrtc: false }, dht: false, iceServers: [] })
    nodes.push(share)
    await share.share({ services: [{ port: http.port }], access: { mode: 'public' } })
    const connector = await createBeam({ transports: { webrtc: false }, dht: false, iceServers: [] })
    nodes.push(connector)
    const quic = transports(connector).find(t => t[Symbol.toStringTag] === '@chainsafe/libp2p-quic')
    expect(quic?.loaded).toBe(false)
    const tunnel = await connector.connect(share.connectString(), { signal: AbortSignal.timeout(20_000), upgrade: false })
    expect((await httpGet(tunnel.port, '/download?mib=1&seed=72', 20_000)).sha256).toBe(expectedHash(72, 1))
    expect(quic?.loaded).toBe(true)
    expect(connector.libp2p.getConnections(share.peerId)[0]?.remoteAddr.toString()).toMatch(/\/quic-v1\//)
    await tunnel.close()
  }, 60_000)
})

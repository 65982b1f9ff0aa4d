import { describe, it, expect, afterEach } from 'vitest'
import { createBeam, newAccessSecret, StatusTracker } from 'beam'
import type { BeamNode } from 'beam'
import { startTcpService, tcpConnect, readAll } from '../helpers/services.ts'

// The status model `beam status` shows, from a real share and connect tunnel
// in one process over loopback TCP: per-peer tunnels, bytes of finished and
// open connections, refusals, and the bound on peers a share keeps.

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

async function beam (listen: string[] = []): Promise<BeamNode> {
  const n = await createBeam({ listen, dht: false, transports: { webrtc: false, quic: false } })
  cleanups.push(async () => { await n.stop() })
  return n
}

describe('StatusTracker', () => {
  it('counts a share\'s tunnels per peer and a connect\'s tunnel, finished and open, and refusals', async () => {
    const svc = await startTcpService(s => { s.pipe(s) })
    cleanups.push(svc.close)
    const sharer = await beam(['/ip4/127.0.0.1/tcp/0'])
    const secret = newAccessSecret()
    const share = await sharer.share({ services: [{ port: svc.port }], access: { mode: 'secret', secret } })
    const onShare = new StatusTracker({ pid: 1, command: 'share', role: 'share', access: 'secret', node: sharer })
    onShare.watchShare(share)

    const connector = await beam()
    const tunnel = await connector.connect(sharer.connectString(secret))
    const onConnect = new StatusTracker({ pid: 2, command: 'connect', role: 'connect', node: connector })
    onConnect.watchConnect(tunnel)

    const s = await tcpConnect(tunnel.port)
    s.end(Buffer.alloc(100_000, 1))
    expect((await readAll(s)).data.length).toBe(100_000)
    // an open one: 5000 bytes sent, nothing closed yet
    const open = await tcpConnect(tunnel.port)
    cleanups.push(async () => { open.destroy() })
    open.write(Buffer.alloc(5000, 2))
    await new Promise<void>(resolve => { let n = 0; open.on('data', (d: Buffer) => { n += d.length; if (n >= 5000) resolve() }) })

    const c = onConnect.snapshot()
    expect(c).toMatchObject({ pid: 2, role: 'connect', peerId: connector.peerId.toString(), ports: [], dashboard: null })
    expect(c.tunnels).toHaveLength(1)
    expect(c.tunnels[0]).toMatchObject({ role: 'connect', peer: sharer.peerId.toString(), local: `127.0.0.1:${tunnel.port}`, open: 1, total: 2, sent: 105_000, received: 105_000, refused: 0 })
    expect(c.tunnels[0]?.path).toMatchObject({ direct: true, transport: 'tcp' })

    const sh = onShare.snapshot()
    expect(sh).toMatchObject({ role: 'share', access: 'secret', ports: [svc.port] })
    expect(sh.tunnels).toHaveLength(1)
    expect(sh.tunnels[0]).toMatchObject({ role: 'share', peer: connector.peerId.toString(), port: svc.port, open: 1, total: 2, sent: 105_000, received: 105_000 })
    expect(sh.tunnels[0]?.path).toMatchObject({ direct: true, transport: 'tcp' })

    // a peer with a wrong secret: counted as a refusal on the share's side
    const stranger = await beam()
    await expect(stranger.connect(sharer.connectString(newAccessSecret()))).rejects.toMatchObject({ name: 'TunnelRefusedError' })
    const refused = onShare.snapshot().tunnels.find(t => t.peer === stranger.peerId.toString())
    expect(refused).toMatchObject({ refused: 1, total: 0 })
  }, 60_000)

  it('keeps at most maxPeers share entries, dropping idle ones seen longest ago', async () => {
    const svc = await startTcpService(s => { s.pipe(s) })
    cleanups.push(svc.close)
    const sharer = await beam(['/ip4/127.0.0.1/tcp/0'])
    const share = await sharer.share({ services: [{ port: svc.port }], access: { mode: 'secret', secret: newAccessSecret() } })
    const tracker = new StatusTracker({ pid: 1, command: 'share', role: 'share', node: sharer, maxPeers: 2 })
    tracker.watchShare(share)
    for (const peer of ['p1', 'p2', 'p3']) share.emit('refused', { remotePeer: peer, reason: 'test' })
    expect(tracker.snapshot().tunnels.map(t => t.peer)).toEqual(['p2', 'p3'])
  }, 30_000)
})

import { describe, it, expect, afterEach } from 'vitest'
import { createBeam, newAccessSecret, StatusTracker } from 'beam'
import type { BeamNode } from 'beam'
import { startTcpService, tcpConnect, readAll } from '../helpers/services.ts'
import { createSocket } from 'node:dgram'
import { connect as netConnect, createServer } from 'node:net'
import type { Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'

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

  it('counts the open bytes of a unix socket, a standard input/output and a UDP tunnel, and names their local end', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-status-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    // an echo service on a unix socket, one on UDP
    const unixService = createServer({ allowHalfOpen: true }, s => { s.pipe(s) })
    const servicePath = join(dir, 'svc.sock')
    await new Promise<void>(resolve => unixService.listen(servicePath, resolve))
    cleanups.push(async () => { await new Promise<void>(resolve => unixService.close(() => { resolve() })) })
    const udpService = createSocket('udp4')
    udpService.on('message', (m, from) => { udpService.send(m, from.port, from.address) })
    await new Promise<void>(resolve => udpService.bind(0, '127.0.0.1', resolve))
    cleanups.push(async () => { udpService.close() })
    const udpPort = udpService.address().port

    const sharer = await beam(['/ip4/127.0.0.1/tcp/0'])
    const secret = newAccessSecret()
    const share = await sharer.share({ services: [{ port: 1, path: servicePath }, { port: udpPort, udp: true }], access: { mode: 'secret', secret } })
    const onShare = new StatusTracker({ pid: 1, command: 'share', role: 'share', node: sharer })
    onShare.watchShare(share)
    const connector = await beam()
    const cs = sharer.connectString(secret)
    const until = async (what: string, ok: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !ok(); i++) await new Promise(resolve => setTimeout(resolve, 25))
      expect(ok(), what).toBe(true)
    }

    // a local client on a unix socket, left open after 3000 bytes each way
    const local = join(dir, 'local.sock')
    const viaUnix = await connector.connect(cs, { remotePort: 1, socketPath: local })
    const onUnix = new StatusTracker({ pid: 2, command: 'connect', role: 'connect', node: connector })
    onUnix.watchConnect(viaUnix)
    const client: Socket = netConnect(local)
    cleanups.push(async () => { client.destroy() })
    let echoed = 0
    client.on('data', (d: Buffer) => { echoed += d.length })
    client.write(Buffer.alloc(3000, 1))
    await until('the unix echo', () => echoed >= 3000)
    expect(onUnix.snapshot().tunnels[0]).toMatchObject({ local: `unix:${local}`, open: 1, sent: 3000, received: 3000 })

    // a tunnel on a reader/writer pair (beam connect --stdio), left open after 4000 bytes each way
    const viaPipe = await connector.connect(cs, { remotePort: 1, bind: false })
    const onPipe = new StatusTracker({ pid: 3, command: 'connect', role: 'connect', node: connector })
    onPipe.watchConnect(viaPipe)
    const input = new PassThrough()
    const output = new PassThrough()
    let piped = 0
    output.on('data', (d: Buffer) => { piped += d.length })
    const done = viaPipe.pipe(input, output)
    cleanups.push(async () => { input.end(); await done })
    input.write(Buffer.alloc(4000, 2))
    await until('the piped echo', () => piped >= 4000)
    expect(onPipe.snapshot().tunnels[0]).toMatchObject({ local: 'stdio', open: 1, sent: 4000, received: 4000 })

    // a UDP source whose datagram tunnel is still open after 500 bytes each way
    const viaUdp = await connector.connect(cs, { remotePort: udpPort, udp: true })
    const onUdp = new StatusTracker({ pid: 4, command: 'connect', role: 'connect', node: connector })
    onUdp.watchConnect(viaUdp)
    const source = createSocket('udp4')
    cleanups.push(async () => { source.close() })
    let answered = 0
    source.on('message', m => { answered += m.length })
    source.send(Buffer.alloc(500, 3), viaUdp.port, '127.0.0.1')
    await until('the UDP echo', () => answered >= 500)
    expect(onUdp.snapshot().tunnels[0]).toMatchObject({ open: 1, sent: 500, received: 500 })

    // the share's side: the three open tunnels' bytes (3000 + 4000 + 500 each way), none finished
    expect(onShare.snapshot().tunnels[0]).toMatchObject({ peer: connector.peerId.toString(), open: 3, sent: 7500, received: 7500 })

    // closing the unix tunnel with its client still there closes the client (a unix socket has no reset to send)
    const closed = new Promise<void>(resolve => { client.once('close', () => { resolve() }) })
    await viaUnix.close()
    await closed
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

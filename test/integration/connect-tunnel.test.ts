import { createHash } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createBeam, newAccessSecret, decodeConnectString, encodeConnectString } from 'beam'
import { streamToDuplex } from '../../src/tunnel/index.ts'
import type { BeamNode, Share, PathInfo } from 'beam'
import { startTcpService, tcpConnect, readAll, block, expectedHash } from '../helpers/services.ts'

// The library through the package's public exports: two nodes in one process,
// real libp2p over loopback TCP.
describe('library: share and connect in one process', () => {
  let sharer: BeamNode
  let connector: BeamNode
  let share: Share
  const secret = newAccessSecret()
  let echo: Awaited<ReturnType<typeof startTcpService>>
  let resetter: Awaited<ReturnType<typeof startTcpService>>

  beforeAll(async () => {
    echo = await startTcpService(s => { s.pipe(s) })
    resetter = await startTcpService(s => { s.once('data', () => { s.resetAndDestroy() }) })
    sharer = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    connector = await createBeam()
    share = await sharer.share({ services: [{ port: echo.port }, { port: resetter.port }], access: { mode: 'secret', secret } })
  })

  afterAll(async () => {
    await connector?.stop()
    await sharer?.stop()
    await echo?.close()
    await resetter?.close()
  })

  it('with bind: false binds no local port; its caller opens tunnel streams itself', async () => {
    const tunnel = await connector.connect(sharer.connectString(secret), { bind: false, signal: AbortSignal.timeout(10_000) })
    try {
      expect(tunnel.port).toBe(0)
      expect(tunnel.host).toBe('')
      const duplex = streamToDuplex(await tunnel.openStream(false, AbortSignal.timeout(10_000)))
      const chunks: Buffer[] = []
      duplex.on('data', (c: Buffer) => chunks.push(c))
      duplex.end('ping through a stream')
      await new Promise<void>((resolve, reject) => { duplex.on('end', resolve); duplex.on('error', reject) })
      expect(Buffer.concat(chunks).toString()).toBe('ping through a stream')
    } finally {
      await tunnel.close()
    }
  })

  it('echoes bytes exactly and reports the path', async () => {
    const tunnel = await connector.connect(sharer.connectString(secret), { signal: AbortSignal.timeout(10_000) })
    const path = tunnel.path ?? await new Promise<PathInfo>(resolve => tunnel.once('path', resolve))
    expect(path).toMatchObject({ direct: true, transport: 'tcp' })
    const s = await tcpConnect(tunnel.port)
    const sent = createHash('sha256')
    for (let i = 0; i < 4; i++) { const b = block(3, i); sent.update(b); s.write(b) }
    s.end()
    const { data, error } = await readAll(s)
    expect(error).toBeUndefined()
    expect(createHash('sha256').update(data).digest('hex')).toBe(sent.digest('hex'))
    await tunnel.close()
  })

  it('delivers every byte to a client that half-closed first and reads slowly', async () => {
    // The client sends its request and FIN at once, then reads nothing for a
    // while: the tunnel stream pauses with data buffered, and the share's FIN
    // arrives meanwhile. That stream closes (both sides sent FIN) before its
    // buffer is delivered; the pipe once ended the socket there and lost the
    // buffered megabytes (4 of 12 MiB arrived), and 3 bytes over Tor.
    const mib = 12
    const svc = await startTcpService(s => {
      for (let i = 0; i < mib; i++) s.write(block(7, i))
      s.resume()
      s.on('end', () => { s.end() })
    })
    const node = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      await node.share({ services: [{ port: svc.port }], access: { mode: 'public' } })
      const tunnel = await connector.connect(node.connectString(), { signal: AbortSignal.timeout(10_000) })
      for (let round = 0; round < 2; round++) {
        const s = await tcpConnect(tunnel.port)
        s.end('request')
        s.pause()
        await new Promise(resolve => setTimeout(resolve, 800))
        s.resume()
        const { data, error } = await readAll(s, 30_000)
        expect(error).toBeUndefined()
        expect(data.length).toBe(mib * 1024 * 1024)
        expect(createHash('sha256').update(data).digest('hex')).toBe(expectedHash(7, mib))
      }
      await tunnel.close()
    } finally {
      await node.stop()
      await svc.close()
    }
  })

  it('a client that speaks first and half-closes, and a service that answers and closes at once: every byte arrives, 50 times', async () => {
    // The connector sends what the client wrote while the tunnel stream was
    // being opened with the tunnel request, and the service's short answer
    // and FIN can come right behind the share's response: both ends then see
    // data and a FIN that arrived before their pipe began (an HTTP/1.0-style
    // exchange). The FIN was once passed on ahead of those bytes and the
    // client got a clean, empty answer.
    const svc = await startTcpService(s => {
      const chunks: Buffer[] = []
      s.on('data', (d: Buffer) => { chunks.push(d) })
      s.on('end', () => { s.end(`got ${Buffer.concat(chunks).toString()}`) })
    })
    const node = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      await node.share({ services: [{ port: svc.port }], access: { mode: 'public' } })
      const tunnel = await connector.connect(node.connectString(), { signal: AbortSignal.timeout(10_000) })
      const early: number[] = []
      tunnel.on('tunnel:close', (ev) => { early.push(ev.sent) })
      for (let i = 0; i < 50; i++) {
        const s = await tcpConnect(tunnel.port)
        s.end(`request ${i}`)
        const { data, error } = await readAll(s, 10_000)
        expect(error).toBeUndefined()
        expect(data.toString()).toBe(`got request ${i}`)
      }
      for (let i = 0; i < 100 && early.length < 50; i++) await new Promise(resolve => setTimeout(resolve, 20))
      await tunnel.close()
      // the bytes sent early count in the tunnel's figures
      expect(early.length).toBe(50)
      expect(early.every(n => n >= 'request 0'.length)).toBe(true)
    } finally {
      await node.stop()
      await svc.close()
    }
  })

  it('propagates a reset of the shared service to the local client', async () => {
    const tunnel = await connector.connect(sharer.connectString(secret), { remotePort: resetter.port })
    const s = await tcpConnect(tunnel.port)
    let cleanEnd = false
    s.once('end', () => { cleanEnd = true })
    s.write('hello')
    const { data, error } = await readAll(s, 10_000)
    expect(data.length).toBe(0)
    // a reset (RST), not a clean close (FIN, 'end'): the client must be able to tell
    expect((error as NodeJS.ErrnoException | undefined)?.code, `the client saw ${error?.message ?? 'a clean end'}`).toBe('ECONNRESET')
    expect(cleanEnd).toBe(false)
    await tunnel.close()
  })

  it('propagates a reset of the local client to the shared service', async () => {
    const serviceSaw = Promise.withResolvers<string>()
    const serviceConnected = Promise.withResolvers<void>()
    const svc = await startTcpService(s => {
      s.resume()
      s.on('error', (e: NodeJS.ErrnoException) => { serviceSaw.resolve(e.code ?? 'error') })
      s.on('end', () => { serviceSaw.resolve('end') })
      s.on('close', () => { serviceSaw.resolve('close') })
      serviceConnected.resolve()
    })
    const node = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      await node.share({ services: [{ port: svc.port }], access: { mode: 'public' } })
      const tunnel = await connector.connect(node.connectString())
      const s = await tcpConnect(tunnel.port)
      s.write('x')
      await serviceConnected.promise
      const started = Date.now()
      s.resetAndDestroy()
      expect(await serviceSaw.promise).toBe('ECONNRESET')
      expect(Date.now() - started).toBeLessThan(2000)
      await tunnel.close()
    } finally {
      await node.stop()
      await svc.close()
    }
  })

  it('throws named errors: refused, unknown port, own peer id', async () => {
    const cs = decodeConnectString(sharer.connectString(secret))
    const wrong = encodeConnectString({ ...cs, secret: newAccessSecret() })
    await expect(connector.connect(wrong)).rejects.toMatchObject({ name: 'TunnelRefusedError' })
    await expect(connector.connect(sharer.peerId.toString())).rejects.toMatchObject({ name: 'TunnelRefusedError' })
    await expect(connector.connect(sharer.connectString(secret), { remotePort: 9 })).rejects.toMatchObject({ name: 'UnknownPortError' })
    await expect(sharer.connect(sharer.connectString(secret))).rejects.toMatchObject({ name: 'InvalidTargetError' })
  })

  it('a peer that shares nothing: UnsupportedProtocolError (tunnel streams are negotiated optimistically, the refusal comes one step later)', async () => {
    const idle = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], transports: { webrtc: false, quic: false }, dht: false })
    try {
      const cs = encodeConnectString({ peerId: idle.peerId, multiaddrs: idle.getMultiaddrs().filter(m => m.toString().includes('/127.0.0.1/')) })
      await expect(connector.connect(cs, { signal: AbortSignal.timeout(10_000) })).rejects.toMatchObject({ name: 'UnsupportedProtocolError' })
    } finally {
      await idle.stop()
    }
  })

  it('emits refused on the share with the peer id, and only one share per node', async () => {
    const refused = new Promise<{ remotePeer: string }>(resolve => share.once('refused', resolve))
    await expect(connector.connect(sharer.peerId.toString())).rejects.toThrow()
    expect((await refused).remotePeer).toBe(connector.peerId.toString())
    await expect(sharer.share({ services: [{ port: 1 }], access: { mode: 'public' } })).rejects.toMatchObject({ name: 'AlreadySharingError' })
  })

  it('stop() is idempotent and later calls fail with NodeStoppedError', async () => {
    const n = await createBeam()
    await n.stop()
    await n.stop()
    await expect(n.connect(sharer.connectString(secret))).rejects.toMatchObject({ name: 'NodeStoppedError' })
  })

  it('an aborted signal aborts connect', async () => {
    const ctl = new AbortController()
    ctl.abort()
    await expect(connector.connect(sharer.connectString(secret), { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' })
  })
})

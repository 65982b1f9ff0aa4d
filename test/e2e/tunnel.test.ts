import { createHash } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startShare, startConnect, tempHome } from '../helpers/beam.ts'
import type { BeamProcess } from '../helpers/beam.ts'
import {
  startHttpService, httpGet, httpUpload, expectedHash, startTcpService, tcpConnect, readAll, block, rssOf
} from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

// One share and one connect process (real beam CLI processes on loopback)
// serve every test in this file.
describe('beam share / beam connect end to end', () => {
  let http: TestHttp
  let raw: Awaited<ReturnType<typeof startTcpService>>
  let shareHome: Awaited<ReturnType<typeof tempHome>>
  let connectHome: Awaited<ReturnType<typeof tempHome>>
  let share: BeamProcess
  let connect: BeamProcess
  let port = 0
  let rawPort = 0
  let connectString = ''

  beforeAll(async () => {
    http = await startHttpService()
    // raw service: reads to EOF, then answers "<bytes> <sha256>\n" and closes (half-close test)
    raw = await startTcpService(s => {
      const h = createHash('sha256')
      let n = 0
      s.on('data', (c: Buffer) => { h.update(c); n += c.length })
      s.on('end', () => { s.end(`${n} ${h.digest('hex')}\n`) })
    })
    shareHome = await tempHome()
    connectHome = await tempHome()
    const s = await startShare([String(http.port), String(raw.port)], shareHome.dir)
    share = s.proc
    connectString = s.connect
    const c = await startConnect(connectString, [], connectHome.dir)
    connect = c.proc
    port = c.port
    const r = await startConnect(connectString, ['--remote', String(raw.port)], connectHome.dir)
    rawConnect = r.proc
    rawPort = r.port
  })
  let rawConnect: BeamProcess

  afterAll(async () => {
    await rawConnect?.stop()
    await connect?.stop()
    await share?.stop()
    await http?.close()
    await raw?.close()
    await shareHome?.cleanup()
    await connectHome?.cleanup()
  })

  it('announces ready with peer id, connect string and addresses; the connector reports a direct path', async () => {
    const ready = share.events.find(e => e.event === 'ready')
    expect(ready?.peerId).toMatch(/^12D3Koo/)
    expect(String(ready?.connect)).toMatch(/^beam[a-z2-7]+$/)
    expect((ready?.multiaddrs as string[]).every(m => m.startsWith('/ip4/127.0.0.1/'))).toBe(true)
    const path = await connect.waitFor('path', 10_000)
    expect(path).toMatchObject({ direct: true })
    expect(path.transport).toBe('tcp') // TCP is ranked first (see src/peer/connect/path.ts)
    expect(String(path.remote)).toMatch(/^\/ip4\/127\.0\.0\.1\//)
    expect(typeof path.rttMs).toBe('number')
  })

  it('downloads 64 MiB with the exact bytes', async () => {
    const r = await httpGet(port, '/download?mib=64&seed=7')
    expect(r.status).toBe(200)
    expect(r.bytes).toBe(64 * 1024 * 1024)
    expect(r.sha256).toBe(expectedHash(7, 64))
  })

  it('uploads 64 MiB with the exact bytes', async () => {
    const r = await httpUpload(port, 9, 64)
    expect(r.bytes).toBe(64 * 1024 * 1024)
    expect(r.sha256).toBe(expectedHash(9, 64))
  })

  it('carries 50 concurrent connections, each with its own bytes', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, async (_, i) => await httpGet(port, `/download?mib=1&seed=${100 + i}`)))
    results.forEach((r, i) => { expect(r.sha256).toBe(expectedHash(100 + i, 1)) })
  })

  it('propagates half-close: the client shuts its write side and still gets the whole answer', async () => {
    const s = await tcpConnect(rawPort)
    const sent = createHash('sha256')
    for (let i = 0; i < 8; i++) { const b = block(42, i); sent.update(b); s.write(b) }
    s.end()
    const { data, error } = await readAll(s)
    expect(error).toBeUndefined()
    expect(data.toString()).toBe(`${8 * 1024 * 1024} ${sent.digest('hex')}\n`)
  })

  it('picks the port with --remote and keeps ports apart', async () => {
    const ev = rawConnect.events.find(e => e.event === 'listening')
    expect(ev?.remotePort).toBe(raw.port)
    const r = await httpGet(port, '/')
    expect(r.body).toBe('hello')
  })

  it('respects backpressure: a stalled reader holds the service back, memory stays bounded, no byte is lost', async () => {
    // a service that pushes 256 MiB as fast as the tunnel takes it
    let pushed = 0
    const mib = 256
    const svc = await startTcpService(s => {
      let i = 0
      const more = (): void => {
        while (i < mib) {
          const b = block(5, i++)
          pushed += b.length
          if (!s.write(b)) { s.once('drain', more); return }
        }
        s.end()
      }
      more()
    })
    const home = await tempHome()
    const sh = await startShare([String(svc.port)], home.dir).catch(async (err: Error) => { await svc.close(); throw err })
    const co = await startConnect(sh.connect, [], home.dir).catch(async (err: Error) => { await sh.proc.stop(); await svc.close(); throw err })
    try {
      const baseShare = await rssOf(sh.proc.child.pid ?? 0)
      const baseConnect = await rssOf(co.proc.child.pid ?? 0)
      const client = await tcpConnect(co.port)
      client.pause()
      // wait until the service stalls (pushed nothing new for 1 s), bounded,
      // rather than a fixed time that says nothing about the state reached
      const STALL_MS = 1000
      let last = -1
      let since = Date.now()
      const until = Date.now() + 30_000
      while (Date.now() < until) {
        if (pushed !== last) { last = pushed; since = Date.now() } else if (Date.now() - since >= STALL_MS) break
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      const heldBack = pushed
      const stalledFor = Date.now() - since
      const growShare = (await rssOf(sh.proc.child.pid ?? 0)) - baseShare
      const growConnect = (await rssOf(co.proc.child.pid ?? 0)) - baseConnect
      const MiB = 1024 * 1024
      const LOWER_MIB = 8
      const seen = `held back at ${(heldBack / MiB).toFixed(1)} MiB; RSS growth share ${(growShare / MiB).toFixed(1)} MiB, connect ${(growConnect / MiB).toFixed(1)} MiB`
      console.log(`tunnel backpressure: ${seen}`)
      expect(stalledFor, `the service never stalled: ${seen}`).toBeGreaterThanOrEqual(STALL_MS)
      // the service could only fill socket buffers and the stream window (16 MiB), not the 256 MiB transfer
      expect(heldBack, seen).toBeLessThan(80 * MiB)
      // and it did fill them: the service got further than its own socket's
      // kernel buffers take with nobody reading (4 MiB measured on loopback
      // here), so the tunnel carried bytes to the connector's side before it
      // held the service back (18-26 MiB seen)
      expect(heldBack, seen).toBeGreaterThanOrEqual(LOWER_MIB * MiB)
      expect(growShare, seen).toBeLessThan(120 * MiB)
      expect(growConnect, seen).toBeLessThan(120 * MiB)
      // now read slowly-ish to the end and check every byte
      const h = createHash('sha256')
      let got = 0
      await new Promise<void>((resolve, reject) => {
        client.on('data', (c: Buffer) => { h.update(c); got += c.length })
        client.on('end', () => { resolve() })
        // a reset here was seen once under the full suite: say what each side logged
        client.on('error', (err: Error) => {
          reject(new Error(`${err.message} after ${got} bytes; connect events ${JSON.stringify(co.proc.events.slice(-5))}, log ${co.proc.stderr.slice(-1500)}; share events ${JSON.stringify(sh.proc.events.slice(-5))}, log ${sh.proc.stderr.slice(-1500)}`))
        })
        client.resume()
      })
      expect(got).toBe(mib * 1024 * 1024)
      expect(h.digest('hex')).toBe(expectedHash(5, mib))
    } finally {
      await co.proc.stop()
      await sh.proc.stop()
      await svc.close()
      await home.cleanup()
    }
  })
})

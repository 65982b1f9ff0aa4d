import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, createServer, request } from 'node:http'
import type { IncomingHttpHeaders, Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { describe, it, expect } from 'vitest'
import type { BeamNode } from '../../src/peer/index.ts'
import { Gateway, GatewayMetrics, GatewayRegistration, GatewayNameTakenError, NameStore, serveMetrics, shareLabel } from '../../src/gateway/index.ts'
import { testNodes } from '../helpers/test-nodes.ts'
import type { GatewayLimitOptions } from '../../src/gateway/index.ts'

// A gateway, shares and visitors in one process over loopback: plain HTTP
// (TLS has its own suite). Visitors are node:http requests with the Host
// header a browser would send for <label>.gw.test.

const DOMAIN = 'gw.test'
const { cleanups, beam } = testNodes()

/** A web app: /headers answers the request headers as JSON, /echo the body's sha256 and length, an Upgrade to 'echo' echoes bytes. */
let appConnections = 0

async function webApp (keepAliveMs = 5000): Promise<number> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(req.headers))
      return
    }
    if (req.url === '/close-soon') {
      // a service that closes an idle connection without saying so first (no Keep-Alive hint to go by)
      res.end('hello from the share')
      setTimeout(() => { req.socket.end() }, 100)
      return
    }
    if (req.url === '/slow') {
      setTimeout(() => { res.end('slow') }, 1500)
      return
    }
    if (req.url === '/big') {
      res.end(Buffer.alloc(1024 * 1024, 1))
      return
    }
    if (req.url === '/huge') {
      // 16 MiB in 1 MiB writes that wait for drain: more than the sockets and the tunnel's window buffer
      const chunk = Buffer.alloc(1024 * 1024, 7)
      let i = 0
      const more = (): void => { while (i < 16) { i++; if (!res.write(chunk)) { res.once('drain', more); return } } res.end() }
      more()
      return
    }
    if (req.url === '/echo') {
      const h = createHash('sha256')
      let n = 0
      req.on('data', (c: Buffer) => { h.update(c); n += c.length })
      req.on('end', () => { res.end(JSON.stringify({ sha256: h.digest('hex'), bytes: n })) })
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-app': 'yes' })
    res.end('hello from the share')
  })
  server.keepAliveTimeout = keepAliveMs
  server.on('connection', () => { appConnections++ })
  server.on('upgrade', (req, socket: Socket, head: Buffer) => {
    socket.on('error', () => {})
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n')
    if (head.length > 0) socket.write(head)
    socket.pipe(socket)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  cleanups.push(async () => { server.closeAllConnections(); await new Promise(resolve => { server.close(resolve) }) })
  return (server.address() as AddressInfo).port
}

interface Answer { status: number, headers: IncomingHttpHeaders, body: string }

async function visit (port: number, host: string, path = '/', options: { method?: string, headers?: Record<string, string>, body?: Buffer, timeoutMs?: number } = {}): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host, ...options.headers }, signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

async function startGateway (node: BeamNode, names?: NameStore, limits?: GatewayLimitOptions): Promise<Gateway> {
  const gw = new Gateway({ node, domain: DOMAIN, listen: { host: '127.0.0.1', port: 0 }, ...(names != null ? { names } : {}), ...(limits != null ? { limits } : {}) })
  await gw.start()
  cleanups.push(async () => { await gw.close() })
  return gw
}

/** A share of `appPort` that opts in to the gateway (or not, with `optIn: false`) and registers. */
async function shareThrough (gwNode: BeamNode, appPort: number, options: { optIn?: boolean, name?: string, basic?: string, register?: boolean } = {}): Promise<{ node: BeamNode, reg: GatewayRegistration | undefined, label: string }> {
  const node = await beam()
  await node.share({ services: [{ port: appPort }], access: { mode: 'allow', peers: [] }, ...(options.optIn !== false ? { gateways: [gwNode.peerId.toString()] } : {}) })
  let reg: GatewayRegistration | undefined
  if (options.register !== false) {
    reg = new GatewayRegistration({ node, gateway: { peerId: gwNode.peerId, multiaddrs: gwNode.getMultiaddrs() }, name: options.name, auth: options.basic != null ? { basic: options.basic } : undefined })
    const r = reg
    cleanups.push(async () => { r.close() })
    await reg.start(AbortSignal.timeout(10_000))
  }
  return { node, reg, label: shareLabel(node.peerId) }
}

describe('beam gateway (plain HTTP, loopback)', () => {
  it('serves a registered share at its peer id label and sets the forwarding headers itself', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label, reg } = await shareThrough(gwNode, app)
    expect(label).toMatch(/^k51[0-9a-z]{59}$/)
    expect(reg?.grant?.url).toBe(`http://${label}.${DOMAIN}:${gw.address.port}/`)

    const hello = await visit(gw.address.port, `${label}.${DOMAIN}:${gw.address.port}`)
    expect(hello.status).toBe(200)
    expect(hello.body).toBe('hello from the share')
    expect(hello.headers['x-app']).toBe('yes')

    // a visitor's own forwarding headers are replaced, not passed on: the share sees the gateway's view
    const h = await visit(gw.address.port, `${label.toUpperCase()}.${DOMAIN}`, '/headers', { headers: { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9', 'x-real-ip': '203.0.113.9', 'x-custom': 'kept' } })
    expect(h.status).toBe(200)
    const seen = JSON.parse(h.body) as Record<string, string>
    expect(seen['x-forwarded-for']).toBe('127.0.0.1')
    expect(seen.forwarded).toBe(`for=127.0.0.1;host="${label.toUpperCase()}.${DOMAIN}";proto=http`)
    expect(seen['x-real-ip']).toBeUndefined()
    expect(seen['x-custom']).toBe('kept')
    expect(seen['x-forwarded-proto']).toBe('http')
  })

  it('carries request bodies both ways and HTTP upgrades (WebSocket-style) byte for byte', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const body = Buffer.alloc(8 * 1024 * 1024, 7)
    const echo = await visit(gw.address.port, `${label}.${DOMAIN}`, '/echo', { method: 'POST', body })
    expect(JSON.parse(echo.body)).toEqual({ sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length })

    const echoed = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gw.address.port, path: '/ws', headers: { host: `${label}.${DOMAIN}`, connection: 'upgrade', upgrade: 'echo' }, signal: AbortSignal.timeout(10_000) })
      req.on('upgrade', (res, socket: Socket) => {
        expect(res.statusCode).toBe(101)
        let got = ''
        socket.on('data', (c: Buffer) => { got += c.toString(); if (got.length >= 11) { socket.destroy(); resolve(got) } })
        socket.write('ping-pong-1')
      })
      req.on('error', reject)
      req.end()
    })
    expect(echoed).toBe('ping-pong-1')
  })

  it('reaches no share that did not opt in, by any name, and says only "no such share"', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    // never registered: its label is unknown
    const stranger = await shareThrough(gwNode, app, { register: false })
    const a = await visit(gw.address.port, `${stranger.label}.${DOMAIN}`)
    expect(a.status).toBe(404)
    expect(a.body).toContain('No such share')
    expect(a.body).not.toContain(stranger.node.peerId.toString())
    // registered, but its share does not admit the gateway: refused, not served
    const closed = await shareThrough(gwNode, app, { optIn: false })
    const b = await visit(gw.address.port, `${closed.label}.${DOMAIN}`)
    expect(b.status).toBe(502)
    expect(b.body).toContain('Share refused')
    // another domain, a deeper name, a label that is no peer id
    expect((await visit(gw.address.port, 'example.org')).status).toBe(404)
    expect((await visit(gw.address.port, `a.${closed.label}.${DOMAIN}`)).status).toBe(404)
    expect((await visit(gw.address.port, `nosuchname.${DOMAIN}`)).status).toBe(404)
  })

  it('answers 502 "share offline" within a second of the share stopping', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { node, label } = await shareThrough(gwNode, app)
    expect((await visit(gw.address.port, `${label}.${DOMAIN}`)).status).toBe(200)
    await node.stop()
    const t0 = performance.now()
    const deadline = t0 + 5000
    let last: Answer | undefined
    while (performance.now() < deadline) {
      last = await visit(gw.address.port, `${label}.${DOMAIN}`)
      if (last.status === 502) break
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    expect(last?.status).toBe(502)
    expect(last?.body).toContain('Share offline')
    expect(performance.now() - t0).toBeLessThan(1000)
  })

  it('requires the visitor authentication the share asked for', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app, { basic: 'alice:s3cret' })
    const none = await visit(gw.address.port, `${label}.${DOMAIN}`)
    expect(none.status).toBe(401)
    expect(none.headers['www-authenticate']).toContain('Basic')
    const wrong = await visit(gw.address.port, `${label}.${DOMAIN}`, '/', { headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` } })
    expect(wrong.status).toBe(401)
    const right = await visit(gw.address.port, `${label}.${DOMAIN}`, '/', { headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` } })
    expect(right.status).toBe(200)
  })

  it('gives short names first come first served, bound to the key, kept in a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-gw-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const file = join(dir, 'names.json')
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode, new NameStore({ file }))
    const first = await shareThrough(gwNode, app, { name: 'myapp' })
    expect(first.reg?.grant?.nameUrl).toBe(`http://myapp.${DOMAIN}:${gw.address.port}/`)
    expect((await visit(gw.address.port, `myapp.${DOMAIN}`)).body).toBe('hello from the share')
    await expect(shareThrough(gwNode, app, { name: 'myapp' })).rejects.toThrow(GatewayNameTakenError)
    // the claim outlives the gateway process: a new store on the same file has it
    const again = new NameStore({ file })
    await again.load()
    expect(again.owner('myapp')).toBe(first.node.peerId.toString())
    // released after the idle period
    const later = new NameStore({ file, now: () => Date.now() + 31 * 24 * 3600_000 })
    await later.load()
    expect(later.owner('myapp')).toBeUndefined()
  })
})

describe('beam gateway keep-alive streams', () => {
  it('carries a share\'s sequential requests over one pooled tunnel stream (one connection to its service)', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const before = appConnections
    for (let i = 0; i < 10; i++) expect((await visit(gw.address.port, `${label}.${DOMAIN}`)).status).toBe(200)
    expect(appConnections - before).toBe(1)
  })

  it('opens a new stream when the service closed the pooled one', async () => {
    const app = await webApp(30_000)
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const before = appConnections
    for (let i = 0; i < 3; i++) {
      // the service closes its idle connection 100 ms after answering: the pooled stream must leave the pool, not take the next request
      expect((await visit(gw.address.port, `${label}.${DOMAIN}`, '/close-soon', { timeoutMs: 5000 })).body).toBe('hello from the share')
      await new Promise(resolve => setTimeout(resolve, 400))
    }
    expect(appConnections - before).toBe(3)
  })

  it('keeps every stream of a burst of 64 concurrent requests for the next burst (no stream churn past 32)', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode, undefined, { ratePerSecond: 0 })
    const { label } = await shareThrough(gwNode, app)
    const agent = new Agent({ keepAlive: true, maxSockets: 64 })
    cleanups.push(async () => { agent.destroy() })
    const before = appConnections
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 64 }, async () => await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: gw.address.port, path: '/', headers: { host: `${label}.${DOMAIN}` }, agent, signal: AbortSignal.timeout(10_000) }, res => {
          res.resume()
          res.on('end', () => { resolve(res.statusCode ?? 0) })
        })
        req.on('error', reject)
        req.end()
      })))
      expect(answers.every(a => a === 200)).toBe(true)
    }
    // 320 requests, at most 64 at once: at most 64 streams, each one connection to the service
    // (a pool that kept 32 free streams closed half of them after each burst: 160 connections)
    expect(appConnections - before).toBeLessThanOrEqual(64)
  })

  it('pools a stream whose answer the visitor held back to its last byte, and carries the next requests on it', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const before = appConnections
    // 1 MiB that the share sends at once while the visitor reads nothing for 300 ms: the gateway
    // holds the stream's reads, and the answer's last bytes are written while the visitor is still full
    const bytes = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gw.address.port, path: '/big', headers: { host: `${label}.${DOMAIN}` }, signal: AbortSignal.timeout(10_000) }, res => {
        let n = 0
        res.pause()
        setTimeout(() => { res.resume() }, 300)
        res.on('data', (c: Buffer) => { n += c.length })
        res.on('end', () => { resolve(n) })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
    expect(bytes).toBe(1024 * 1024)
    for (let i = 0; i < 3; i++) expect((await visit(gw.address.port, `${label}.${DOMAIN}`, '/', { timeoutMs: 3000 })).body).toBe('hello from the share')
    // one stream, one connection to the service, for all four
    expect(appConnections - before).toBe(1)
  })
})

/** A service whose answers exercise HTTP/1.1's framing: each path a kind of answer, some of them malformed on purpose. */
async function framingApp (): Promise<number> {
  const server: Server = createServer((req, res) => {
    const raw = (text: string): void => { req.socket.end(text) }
    switch (req.url) {
      case '/chunked': res.write('a'); setTimeout(() => { res.write('b'); res.end('c') }, 20); return
      case '/hints': res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }); res.end('final'); return
      case '/no-length': raw('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end'); return
      case '/two-lengths': raw('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd'); return
      case '/not-http': raw('SSH-2.0-OpenSSH_9.2\r\n\r\n'); return
      case '/early': res.writeHead(413, { 'content-length': '4', connection: 'close' }); res.end('full'); return
      case '/echo': {
        const h = createHash('sha256')
        let n = 0
        req.on('data', (c: Buffer) => { h.update(c); n += c.length })
        req.on('end', () => { res.end(JSON.stringify({ sha256: h.digest('hex'), bytes: n, te: req.headers['transfer-encoding'] ?? null })) })
        return
      }
      default: res.writeHead(200, { 'x-method': req.method ?? '', 'content-length': '5' }); res.end(req.method === 'HEAD' ? undefined : '12345')
    }
  })
  server.keepAliveTimeout = 5000
  server.on('connection', () => { appConnections++ })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  cleanups.push(async () => { server.closeAllConnections(); await new Promise(resolve => { server.close(resolve) }) })
  return (server.address() as AddressInfo).port
}

describe('beam gateway\'s HTTP/1.1 client to the share', () => {
  it('forwards HEAD, chunked and length-less answers, skips 103 Early Hints, and keeps the stream between them', async () => {
    const app = await framingApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const host = `${label}.${DOMAIN}`
    const before = appConnections
    const head = await visit(gw.address.port, host, '/', { method: 'HEAD', timeoutMs: 5000 })
    expect([head.status, head.headers['content-length'], head.headers['x-method'], head.body]).toEqual([200, '5', 'HEAD', ''])
    expect((await visit(gw.address.port, host, '/chunked', { timeoutMs: 5000 })).body).toBe('abc')
    const hints = await visit(gw.address.port, host, '/hints', { timeoutMs: 5000 })
    expect([hints.status, hints.body]).toEqual([200, 'final'])
    expect((await visit(gw.address.port, host, '/', { timeoutMs: 5000 })).body).toBe('12345')
    // four answers, one connection to the service
    expect(appConnections - before).toBe(1)
    // an answer that runs to the end of the connection: all of it, then a new stream for the next request
    expect((await visit(gw.address.port, host, '/no-length', { timeoutMs: 5000 })).body).toBe('until the end')
    expect((await visit(gw.address.port, host, '/', { timeoutMs: 5000 })).body).toBe('12345')
    expect(appConnections - before).toBe(2)
  })

  it('sends a chunked request body as chunks, and a body the share answered early is not waited for', async () => {
    const app = await framingApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const host = `${label}.${DOMAIN}`
    const parts = [Buffer.alloc(100_000, 1), Buffer.alloc(3, 2), Buffer.alloc(70_000, 3)]
    const whole = Buffer.concat(parts)
    const echoed = await new Promise<string>((resolve, reject) => {
      // no Content-Length: node:http sends it chunked
      const req = request({ host: '127.0.0.1', port: gw.address.port, path: '/echo', method: 'POST', headers: { host }, signal: AbortSignal.timeout(10_000) }, res => {
        let body = ''
        res.on('data', (c: Buffer) => { body += c.toString() })
        res.on('end', () => { resolve(body) })
      })
      req.on('error', reject)
      for (const p of parts) req.write(p)
      req.end()
    })
    expect(JSON.parse(echoed)).toEqual({ sha256: createHash('sha256').update(whole).digest('hex'), bytes: whole.length, te: 'chunked' })
    const early = await visit(gw.address.port, host, '/early', { method: 'POST', body: Buffer.alloc(4 * 1024 * 1024, 9), timeoutMs: 10_000 })
    expect([early.status, early.body]).toEqual([413, 'full'])
    expect((await visit(gw.address.port, host, '/', { timeoutMs: 5000 })).body).toBe('12345')
  })

  it('answers a malformed answer with a 502 "Bad answer" page and closes that stream', async () => {
    const app = await framingApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const host = `${label}.${DOMAIN}`
    const kinds: string[] = []
    gw.on('request', e => { kinds.push(e.kind) })
    for (const path of ['/two-lengths', '/not-http']) {
      const bad = await visit(gw.address.port, host, path, { timeoutMs: 5000 })
      expect(bad.status).toBe(502)
      expect(bad.body).toContain('Bad answer')
      // nothing of the share's bytes reaches the visitor
      expect(bad.body).not.toContain('abcd')
      expect(bad.body).not.toContain('SSH')
    }
    expect((await visit(gw.address.port, host, '/', { timeoutMs: 5000 })).body).toBe('12345')
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(kinds).toEqual(['bad-answer', 'bad-answer', 'share'])
  })
})

describe('beam gateway operator controls', () => {
  it('holds each share to its request rate, leaving other shares alone, with a 429 page', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode, undefined, { ratePerSecond: 2 })
    const busy = await shareThrough(gwNode, app)
    const calm = await shareThrough(gwNode, app)
    // a burst of twice the rate passes, the rest within the same second does not
    const answers = []
    for (let i = 0; i < 6; i++) answers.push(await visit(gw.address.port, `${busy.label}.${DOMAIN}`))
    expect(answers.slice(0, 4).every(a => a.status === 200)).toBe(true)
    const limited = answers.filter(a => a.status === 429)
    expect(limited.length).toBeGreaterThanOrEqual(1)
    expect(limited[0]?.body).toContain('Too many requests')
    expect(limited[0]?.headers['retry-after']).toBe('1')
    // the page names the host asked for and nothing else: no peer id, no other share
    expect(limited[0]?.body).not.toContain(calm.label)
    expect(limited[0]?.body).not.toContain(busy.node.peerId.toString())
    expect((await visit(gw.address.port, `${calm.label}.${DOMAIN}`)).status).toBe(200)
  })

  it('caps the requests in flight per share', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode, undefined, { maxVisitors: 1 })
    const { label } = await shareThrough(gwNode, app)
    const slow = visit(gw.address.port, `${label}.${DOMAIN}`, '/slow')
    await new Promise(resolve => setTimeout(resolve, 300))
    const second = await visit(gw.address.port, `${label}.${DOMAIN}`)
    expect(second.status).toBe(429)
    expect((await slow).body).toBe('slow')
    expect((await visit(gw.address.port, `${label}.${DOMAIN}`)).status).toBe(200)
  })

  it('holds a share to its bandwidth', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode, undefined, { bytesPerSecond: 256 * 1024 })
    const { label } = await shareThrough(gwNode, app)
    const t0 = performance.now()
    const big = await visit(gw.address.port, `${label}.${DOMAIN}`, '/big')
    const s = (performance.now() - t0) / 1000
    expect(big.body.length).toBe(1024 * 1024)
    // 1 MiB at 256 KiB/s with a one-second burst: about 3 s
    expect(s).toBeGreaterThan(2.5)
    expect(s).toBeLessThan(8)
  })

  it('holds the share\'s answer back while a visitor does not read, and delivers every byte', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const { label } = await shareThrough(gwNode, app)
    const events: Array<{ bytesOut: number, status: number }> = []
    gw.on('request', e => { events.push(e) })
    const got = await new Promise<{ bytes: number, sevens: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: gw.address.port, path: '/huge', headers: { host: `${label}.${DOMAIN}` }, signal: AbortSignal.timeout(30_000) }, res => {
        let bytes = 0
        let sevens = true
        // a visitor that stops reading for a while: the gateway must wait for it, not drop or buffer without bound
        res.pause()
        setTimeout(() => { res.resume() }, 500)
        res.on('data', (c: Buffer) => { bytes += c.length; if (sevens && c.some(b => b !== 7)) sevens = false })
        res.on('end', () => { resolve({ bytes, sevens }) })
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
    expect(got).toEqual({ bytes: 16 * 1024 * 1024, sevens: true })
    await new Promise(resolve => setTimeout(resolve, 50))
    expect(events.map(e => [e.status, e.bytesOut])).toEqual([[200, 16 * 1024 * 1024]])
  })

  it('counts requests, bytes, latency and its own answers for Prometheus, without naming shares', async () => {
    const app = await webApp()
    const gwNode = await beam()
    const gw = await startGateway(gwNode)
    const counters = new GatewayMetrics()
    gw.on('request', e => { counters.observe(e) })
    const m = await serveMetrics('127.0.0.1', 0, () => counters.render([{ name: 'beam_gateway_shares_online', help: 'x', type: 'gauge', value: gw.onlineShares }]))
    cleanups.push(m.close)
    const { label } = await shareThrough(gwNode, app)
    await visit(gw.address.port, `${label}.${DOMAIN}`, '/big')
    await visit(gw.address.port, `nosuch.${DOMAIN}`)
    const text = (await visit(m.port, '127.0.0.1', '/metrics')).body
    expect(text).toContain('beam_gateway_shares_online 1')
    expect(text).toContain('beam_gateway_requests_total{code="2xx"} 1')
    expect(text).toContain('beam_gateway_requests_total{code="4xx"} 1')
    expect(text).toContain(`beam_gateway_bytes_total{direction="out"} ${1024 * 1024}`)
    expect(text).toContain('beam_gateway_errors_total{kind="unknown-name"} 1')
    expect(text).toContain('# TYPE beam_gateway_request_duration_seconds histogram')
    expect(text).toContain('beam_gateway_request_duration_seconds_count 2')
    expect(text).not.toContain(label)
  })
})

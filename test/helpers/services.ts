import { createHash } from 'node:crypto'
import { createServer, connect as netConnect } from 'node:net'
import type { Server, Socket } from 'node:net'
import { createServer as createHttpServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Deterministic pseudo-random bytes: block i of a stream seeded by `seed`. */
export function block (seed: number, i: number, size = 1024 * 1024): Buffer {
  const out = Buffer.allocUnsafe(size)
  let x = (seed * 2654435761 + i * 40503 + 1) >>> 0
  for (let o = 0; o < size; o += 4) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out.writeUInt32LE(x, o)
  }
  return out
}

/** SHA-256 of `mib` blocks of seed `seed`. */
export function expectedHash (seed: number, mib: number): string {
  const h = createHash('sha256')
  for (let i = 0; i < mib; i++) h.update(block(seed, i))
  return h.digest('hex')
}

export interface TestHttp {
  port: number
  /** TCP connections the service accepted. */
  accepted: () => number
  close: () => Promise<void>
}

/**
 * A local HTTP service: GET /download?mib=N&seed=S streams N MiB of
 * deterministic bytes; POST /upload answers the SHA-256 and length of the body;
 * GET / answers 'hello'.
 */
export async function startHttpService (): Promise<TestHttp> {
  let accepted = 0
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (req.method === 'GET' && url.pathname === '/download') {
      const mib = Number(url.searchParams.get('mib') ?? '1')
      const seed = Number(url.searchParams.get('seed') ?? '1')
      res.writeHead(200, { 'content-length': String(mib * 1024 * 1024) })
      let i = 0
      const more = (): void => {
        while (i < mib) {
          if (!res.write(block(seed, i++))) { res.once('drain', more); return }
        }
        res.end()
      }
      more()
    } else if (req.method === 'POST' && url.pathname === '/upload') {
      const h = createHash('sha256')
      let n = 0
      req.on('data', (c: Buffer) => { h.update(c); n += c.length })
      req.on('end', () => { res.end(JSON.stringify({ sha256: h.digest('hex'), bytes: n })) })
    } else {
      res.end('hello')
    }
  })
  server.on('connection', () => { accepted++ })
  server.keepAliveTimeout = 1000
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: async () => { server.closeAllConnections(); await new Promise<void>(resolve => server.close(() => { resolve() })) }
  }
}

/** GET through a port; returns status, SHA-256 and length of the body. */
export async function httpGet (port: number, path: string, timeoutMs = 120_000): Promise<{ status: number, sha256: string, bytes: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, res => {
      const h = createHash('sha256')
      let n = 0
      let body = ''
      res.on('data', (c: Buffer) => { h.update(c); n += c.length; if (body.length < 1000) body += c.toString('latin1') })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, sha256: h.digest('hex'), bytes: n, body }) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`GET ${path} timed out`)) })
    req.on('error', reject)
    req.end()
  })
}

/** POST `mib` MiB of seed `seed` through a port; resolves the service's answer. */
export async function httpUpload (port: number, seed: number, mib: number, timeoutMs = 120_000): Promise<{ sha256: string, bytes: number }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false, timeout: timeoutMs, headers: { 'content-length': String(mib * 1024 * 1024) } }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { try { resolve(JSON.parse(body) as { sha256: string, bytes: number }) } catch (err) { reject(err as Error) } })
    })
    req.on('timeout', () => { req.destroy(new Error('upload timed out')) })
    req.on('error', reject)
    let i = 0
    const more = (): void => {
      while (i < mib) {
        if (!req.write(block(seed, i++))) { req.once('drain', more); return }
      }
      req.end()
    }
    more()
  })
}

/** A raw TCP service with a handler per connection. */
export async function startTcpService (onSocket: (s: Socket) => void): Promise<{ port: number, accepted: () => number, close: () => Promise<void> }> {
  let accepted = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer({ allowHalfOpen: true }, s => {
    accepted++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    onSocket(s)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/** Connect to a local port (half-open capable). */
export async function tcpConnect (port: number): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true })
    s.once('connect', () => { s.off('error', reject); resolve(s) })
    s.once('error', reject)
  })
}

/** Read a socket to its end; resolves the bytes (and whether it ended by error). */
export async function readAll (s: Socket, timeoutMs = 60_000): Promise<{ data: Buffer, error?: Error }> {
  return await new Promise(resolve => {
    const chunks: Buffer[] = []
    const t = setTimeout(() => { s.destroy(); resolve({ data: Buffer.concat(chunks), error: new Error('readAll timed out') }) }, timeoutMs)
    s.on('data', (c: Buffer) => chunks.push(c))
    s.on('end', () => { clearTimeout(t); resolve({ data: Buffer.concat(chunks) }) })
    s.on('error', (error) => { clearTimeout(t); resolve({ data: Buffer.concat(chunks), error }) })
    s.on('close', () => { clearTimeout(t); resolve({ data: Buffer.concat(chunks) }) })
  })
}

/** RSS of a process in bytes, from /proc. */
export async function rssOf (pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m != null ? Number(m[1]) * 1024 : 0
}

/** A free loopback TCP port: bind on 0, read the port, close. */
export async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>(resolve => s.close(() => { resolve() }))
  return port
}

/**
 * A TCP service for the Tor tests: on each connection it sends its blob while
 * it reads (and hashes) whatever the client sends, until the client's
 * half-close; then it closes. Both directions run at once through the tunnel.
 */
import { createHash } from 'node:crypto'
import net from 'node:net'

export interface BlobServer {
  port: number
  /** SHA-256 of the blob the server sends. */
  sha: string
  /** SHA-256 of what the last finished connection sent to the server. */
  lastUploadSha: () => Promise<string>
  close: () => Promise<void>
}

export async function startBlobServer (blob: Buffer): Promise<BlobServer> {
  const sha = createHash('sha256').update(blob).digest('hex')
  let resolveLast: ((s: string) => void) | undefined
  const last = new Promise<string>(resolve => { resolveLast = resolve })
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, socket => {
    sockets.add(socket)
    socket.on('close', () => { sockets.delete(socket) })
    socket.on('error', () => {})
    const h = createHash('sha256')
    socket.on('data', d => { h.update(d) })
    socket.on('end', () => {
      resolveLast?.(h.digest('hex'))
      socket.end()
    })
    socket.write(blob)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address() as net.AddressInfo
  return {
    port: addr.port,
    sha,
    lastUploadSha: async () => await last,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
    }
  }
}

/** Connect to 127.0.0.1:port, send `up` then half-close, read to the end; resolves the SHA-256 of what came back. */
export async function fetchThrough (port: number, up: Buffer, timeoutMs = 90_000): Promise<{ receivedSha: string, received: number, firstByteMs: number, ms: number }> {
  return await new Promise((resolve, reject) => {
    const start = performance.now()
    let firstByteMs = -1
    const h = createHash('sha256')
    let received = 0
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`transfer timed out after ${timeoutMs} ms (${received} bytes received)`)) }, timeoutMs)
    s.on('connect', () => { s.end(up) })
    s.on('data', d => {
      if (firstByteMs < 0) firstByteMs = performance.now() - start
      received += d.length
      h.update(d)
    })
    s.on('end', () => {
      clearTimeout(timer)
      resolve({ receivedSha: h.digest('hex'), received, firstByteMs: Math.round(firstByteMs), ms: Math.round(performance.now() - start) })
      s.end()
    })
    s.on('error', err => { clearTimeout(timer); reject(err) })
  })
}

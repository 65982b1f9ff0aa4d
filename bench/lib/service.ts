/**
 * The service behind every tunnel of the benchmark, run as its own process.
 * One port speaks two protocols, told apart by the first byte: the bulk
 * protocol (see pattern.ts: 'U' or 'D'), an echo ('E', then every byte comes
 * back) and HTTP (`GET /` answers 2 bytes),
 * so that one tunnel carries both. Prints `{"event":"ready","port":…}`;
 * stops on SIGTERM.
 */
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { createServer as createHttpServer } from 'node:http'
import { BLOCK, BLOCK_SIZE, HEADER_SIZE, decodeHeader } from './pattern.ts'

function sendPattern (socket: Socket, size: number): void {
  let left = size
  const more = (): void => {
    while (left > 0) {
      const n = Math.min(left, BLOCK_SIZE)
      left -= n
      if (!socket.write(n === BLOCK_SIZE ? BLOCK : BLOCK.subarray(0, n))) { socket.once('drain', more); return }
    }
    socket.end()
  }
  more()
}

function onBulk (socket: Socket): void {
  socket.on('error', () => { socket.destroy() })
  let head = Buffer.alloc(0)
  let upload: { left: number, hash: ReturnType<typeof createHash> | null } | undefined
  const onData = (chunk: Buffer): void => {
    if (upload == null) {
      head = Buffer.concat([head, chunk])
      if (head.length < HEADER_SIZE) return
      const h = decodeHeader(head)
      const rest = head.subarray(HEADER_SIZE)
      if (h.op === 'D') {
        socket.off('data', onData)
        sendPattern(socket, h.size)
        return
      }
      upload = { left: h.size, hash: h.verify ? createHash('sha256') : null }
      chunk = rest
    }
    if (chunk.length > 0) {
      upload.hash?.update(chunk.subarray(0, upload.left))
      upload.left -= chunk.length
    }
    if (upload.left <= 0) {
      socket.off('data', onData)
      socket.end(upload.hash != null ? upload.hash.digest() : Buffer.from([1]))
    }
  }
  socket.on('data', onData)
}

/** The echo protocol: after the 'E', every byte comes back as it came (small-request benchmarks). */
function onEcho (socket: Socket): void {
  let first = true
  socket.on('data', (chunk: Buffer) => {
    const data = first ? chunk.subarray(1) : chunk
    first = false
    if (data.length > 0 && !socket.write(data)) {
      socket.pause()
      socket.once('drain', () => { socket.resume() })
    }
  })
  socket.on('end', () => { socket.end() })
}

const http = createHttpServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
  res.end('ok')
})
const server = createServer({ noDelay: true }, (socket) => {
  socket.once('data', (first: Buffer) => {
    socket.pause()
    socket.unshift(first)
    if (first[0] === 0x47 /* 'G' */) http.emit('connection', socket)
    else if (first[0] === 0x45 /* 'E' */) onEcho(socket)
    else onBulk(socket)
    socket.resume()
  })
  socket.on('error', () => { socket.destroy() })
})
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  process.stdout.write(JSON.stringify({ event: 'ready', port: (server.address() as AddressInfo).port }) + '\n')
})
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => { process.exit(0) })

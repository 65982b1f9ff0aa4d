import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { block } from './services.ts'

/**
 * A small web app for browser tests: an HTML page whose script calls a JSON
 * API with fetch, downloads 32 MiB and hashes it, echoes over a WebSocket
 * and reads server-sent events, then shows what it got. The WebSocket side
 * is a minimal RFC 6455 server (text frames under 64 KiB, enough for an echo).
 */

/** MiB the page downloads. */
export const DOWNLOAD_MIB = 32

export interface WebApp {
  port: number
  /** SHA-256 (hex) of the download. */
  downloadSha256: string
  /** Headers of the last API request (what the share saw). */
  lastApiHeaders: () => Record<string, string | string[] | undefined>
  close: () => Promise<void>
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>beam web app</title>
<style>body{font:16px system-ui,sans-serif;margin:2em} td{padding:.2em 1em;border-bottom:1px solid #ddd} .ok{color:#080}</style></head>
<body><h1>Served through beam</h1><table id="results"></table><p id="done"></p>
<script>
const row = (name, value) => { const tr = document.createElement('tr'); tr.innerHTML = '<td>' + name + '</td><td class="ok" id="' + name + '"></td>'; document.getElementById('results').append(tr); document.getElementById(name).textContent = value }
const hex = buf => [...new Uint8Array(buf)].map(b => b.toString(16).padStart(2, '0')).join('')
async function run () {
  const api = await (await fetch('/api/data?x=1', { headers: { 'content-type': 'application/json' } })).json()
  row('api', api.message + ' / ' + api.forwardedFor)
  const t0 = performance.now()
  const body = await (await fetch('/download')).arrayBuffer()
  row('download', body.byteLength + ' bytes sha256 ' + hex(await crypto.subtle.digest('SHA-256', body)) + ' in ' + Math.round(performance.now() - t0) + ' ms')
  const ws = new WebSocket('wss://' + location.host + '/ws')
  const echo = await new Promise((resolve, reject) => { ws.onopen = () => ws.send('hello over beam'); ws.onmessage = e => { resolve(e.data); ws.close() }; ws.onerror = () => reject(new Error('websocket failed')) })
  row('websocket', echo)
  const events = await new Promise((resolve, reject) => { const got = []; const es = new EventSource('/events'); es.onmessage = e => { got.push(e.data); if (got.length === 3) { es.close(); resolve(got.join(',')) } }; es.onerror = () => { if (got.length < 3) { es.close(); reject(new Error('sse failed after ' + got.length)) } } })
  row('sse', events)
  document.getElementById('done').textContent = 'all done'
}
run().catch(err => { document.getElementById('done').textContent = 'failed: ' + err.message })
</script></body></html>
`

function wsAccept (key: string): string {
  return createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
}

/** One unmasked server frame. */
function frame (opcode: number, payload: Buffer): Buffer {
  const head = payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 255])
  return Buffer.concat([head, payload])
}

function echoWebSocket (socket: Socket): void {
  let buf = Buffer.alloc(0)
  socket.on('error', () => {})
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk])
    for (;;) {
      if (buf.length < 2) return
      const opcode = (buf[0] ?? 0) & 0x0f
      let len = (buf[1] ?? 0) & 0x7f
      let off = 2
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4 }
      if (len === 127) { socket.destroy(); return }
      if (buf.length < off + 4 + len) return
      const mask = buf.subarray(off, off + 4)
      const payload = Buffer.from(buf.subarray(off + 4, off + 4 + len).map((b, i) => b ^ (mask[i % 4] ?? 0)))
      buf = buf.subarray(off + 4 + len)
      if (opcode === 0x8) { socket.end(frame(0x8, payload.subarray(0, 2))); return }
      if (opcode === 0x9) socket.write(frame(0xa, payload))
      else if (opcode === 0x1 || opcode === 0x2) socket.write(frame(opcode, payload))
    }
  })
}

export async function startWebApp (): Promise<WebApp> {
  const hash = createHash('sha256')
  for (let i = 0; i < DOWNLOAD_MIB; i++) hash.update(block(22, i))
  const downloadSha256 = hash.digest('hex')
  let lastApi: Record<string, string | string[] | undefined> = {}
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/'
    if (url === '/' || url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(PAGE)
    } else if (url.startsWith('/api/data')) {
      lastApi = { ...req.headers }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: 'hello from the API', forwardedFor: req.headers['x-forwarded-for'] ?? null }))
    } else if (url === '/download') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': DOWNLOAD_MIB * 1024 * 1024 })
      let i = 0
      const more = (): void => {
        while (i < DOWNLOAD_MIB) {
          const ok = res.write(block(22, i++))
          if (!ok) { res.once('drain', more); return }
        }
        res.end()
      }
      more()
    } else if (url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' })
      let n = 0
      const t = setInterval(() => {
        n++
        res.write(`data: event-${n}\n\n`)
        if (n === 3) { clearInterval(t); setTimeout(() => res.end(), 200) }
      }, 100)
      res.on('close', () => { clearInterval(t) })
    } else if (url === '/favicon.ico') {
      res.writeHead(204).end()
    } else {
      res.writeHead(404).end()
    }
  })
  server.on('upgrade', (req, socket: Socket) => {
    const key = req.headers['sec-websocket-key']
    if (typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') { socket.destroy(); return }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${wsAccept(key)}\r\n\r\n`)
    echoWebSocket(socket)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return {
    port: (server.address() as AddressInfo).port,
    downloadSha256,
    lastApiHeaders: () => lastApi,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => { server.close(resolve) }) }
  }
}

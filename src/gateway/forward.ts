import type { Agent, ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Duplex, Transform } from 'node:stream'

/**
 * One visitor request carried to a share over one tunnel stream: the request
 * as HTTP/1.1 on the stream (whatever the visitor spoke), the share's answer
 * back. Hop-by-hop headers are dropped both ways, and the visitor's own
 * Forwarded/X-Forwarded-* headers are replaced by the gateway's.
 */

/** Who is asking: what the gateway saw of the visitor. */
export interface Visitor {
  /** The visitor's IP address (the TCP peer of the gateway). */
  address: string
  /** The Host the visitor asked for. */
  host: string
  /** `https` or `http`: how the visitor reached the gateway. */
  proto: 'https' | 'http'
}

/** Headers that describe one hop, never forwarded (RFC 9110 7.6.1, plus HTTP/2's). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'])
/** Headers the gateway sets itself: a visitor's copies are dropped (they would let anyone pose as another address). */
const FORWARDING = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-real-ip'])

/** An address as a Forwarded `for=` value: IPv6 quoted in brackets, IPv4-mapped IPv6 as IPv4. */
export function forwardedNode (address: string): string {
  const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
  return a.includes(':') ? `"[${a}]"` : a
}

/** The visitor's address as the share should see it (IPv4-mapped IPv6 as IPv4). */
export function plainAddress (address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/** The header names a Connection header lists (hop-by-hop too), or undefined when there is none. */
function connectionTokens (connection: string | string[] | undefined): Set<string> | undefined {
  if (connection == null) return undefined
  // the usual values name no header beyond HOP_BY_HOP's keep-alive: no set to make per request
  if (typeof connection === 'string') { const c = connection.toLowerCase(); if (c === 'keep-alive' || c === 'close') return undefined }
  return new Set(String(connection).split(',').map(t => t.trim().toLowerCase()).filter(t => t !== ''))
}

/** The request headers to send to the share. `upgrade` keeps Connection/Upgrade (a WebSocket handshake). */
export function requestHeaders (incoming: IncomingHttpHeaders, visitor: Visitor, upgrade = false): OutgoingHttpHeaders {
  const listed = connectionTokens(incoming.connection)
  const out: OutgoingHttpHeaders = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (name.startsWith(':') || value == null) continue
    const k = name.toLowerCase()
    if (FORWARDING.has(k) || k === 'host') continue
    if ((HOP_BY_HOP.has(k) || listed?.has(k) === true) && !(upgrade && (k === 'connection' || k === 'upgrade'))) continue
    out[k] = value
  }
  out.host = visitor.host
  out['x-forwarded-for'] = plainAddress(visitor.address)
  out['x-forwarded-proto'] = visitor.proto
  out['x-forwarded-host'] = visitor.host
  out.forwarded = `for=${forwardedNode(visitor.address)};host="${visitor.host.replace(/["\\]/g, '')}";proto=${visitor.proto}`
  if (upgrade) {
    out.connection = 'upgrade'
    if (incoming.upgrade != null) out.upgrade = incoming.upgrade
  }
  return out
}

/** The share's response headers as the visitor gets them. */
export function responseHeaders (incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionTokens(incoming.connection)
  const out: OutgoingHttpHeaders = {}
  for (const name in incoming) {
    const value = incoming[name]
    if (value == null) continue
    const k = name.toLowerCase()
    if (HOP_BY_HOP.has(k) || listed?.has(k) === true) continue
    out[k] = value
  }
  return out
}

/** What one forwarded request did. */
export interface ForwardResult {
  /** The share's status code (0 when no response came). */
  status: number
  /** Body bytes from the visitor to the share. */
  bytesIn: number
  /** Body bytes from the share to the visitor. */
  bytesOut: number
  /** Set when the exchange broke after it started. */
  error?: Error
}

/** A visitor's request, HTTP/1.1 or HTTP/2. */
export type VisitorRequest = IncomingMessage | Http2ServerRequest
/** A visitor's response, HTTP/1.1 or HTTP/2. */
export type VisitorResponse = ServerResponse | Http2ServerResponse

/** writeHead on either kind of response (their overloads differ only in the status message). */
export function writeHead (res: VisitorResponse, status: number, headers: OutgoingHttpHeaders): void {
  (res as ServerResponse).writeHead(status, headers)
}

/** Whether an HTTP/1 request has no body: neither Transfer-Encoding nor a Content-Length above 0 (RFC 9112 6.3). HTTP/2 says so only by its stream's end. */
export function bodiless (req: VisitorRequest): boolean {
  if (req.httpVersionMajor !== 1) return false
  const h = req.headers
  return h['transfer-encoding'] == null && (h['content-length'] == null || h['content-length'] === '0')
}

/** Methods a request may be sent again for when a pooled stream turned out to be closed. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Send the visitor's request over a tunnel stream of `agent` (a pooled one
 * when free, else a new one) and stream the answer back. `onNoResponse` is
 * called instead of answering when the share sent no response at all (the
 * caller shows a page; the error says why: refused, offline, …). A bodiless
 * GET/HEAD/OPTIONS that failed on a pooled stream (the share's service had
 * just closed it) is sent once more on a new one. Resolves when the visitor's
 * response has ended or either side broke.
 */
export async function forwardRequest (req: VisitorRequest, res: VisitorResponse, agent: Agent, visitor: Visitor, onNoResponse: (err: Error) => void, throttle: () => Transform | undefined = () => undefined): Promise<ForwardResult> {
  return await new Promise<ForwardResult>(resolve => {
    const result: ForwardResult = { status: 0, bytesIn: 0, bytesOut: 0 }
    let settled = false
    let current: ClientRequest | undefined
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      if (err != null) result.error = err
      resolve(result)
    }
    const headers = requestHeaders(req.headers, visitor)
    const attempt = (first: boolean): void => {
      const out = process.getBuiltinModule('node:http').request({ method: req.method, path: req.url, headers, agent })
      current = out
      out.on('response', (answer: IncomingMessage) => {
        result.status = answer.statusCode ?? 502
        writeHead(res, result.status, responseHeaders(answer.headers))
        const slow = throttle()
        if (slow != null) {
          answer.on('data', (chunk: Buffer) => { result.bytesOut += chunk.length })
          answer.pipe(slow).pipe(res as NodeJS.WritableStream)
        } else {
          // what pipe() does, without its five listeners on each side per request
          // (a visitor that goes away is handled by res 'close' below)
          answer.on('data', (chunk: Buffer) => {
            result.bytesOut += chunk.length
            if (!(res as NodeJS.WritableStream).write(chunk)) { answer.pause(); res.once('drain', () => { answer.resume() }) }
          })
          answer.on('end', () => { res.end() })
        }
        answer.on('error', (err) => { res.destroy(err); finish(err) })
        res.on('finish', () => { finish() })
      })
      out.on('error', (err) => {
        if (result.status === 0 && !res.headersSent) {
          if (first && out.reusedSocket && IDEMPOTENT.has(req.method ?? '') && result.bytesIn === 0) { attempt(false); return }
          onNoResponse(err)
          finish(err)
        } else {
          res.destroy(err)
          finish(err)
        }
      })
      if (!first || noBody) { out.end(); return }
      const slow = throttle()
      if (slow != null) req.pipe(slow).pipe(out)
      else req.pipe(out)
    }
    res.on('close', () => {
      // the visitor went away: the share's side goes too (the stream is reset, not pooled)
      if (!res.writableFinished) { current?.destroy(); finish(new Error('visitor closed the connection')) }
    })
    // an HTTP/1 request without a body (most GETs) ends its forwarded copy at once, not through a pipe
    const noBody = bodiless(req)
    if (!noBody) req.on('data', (chunk: Buffer) => { result.bytesIn += chunk.length })
    attempt(true)
  })
}

/**
 * A WebSocket (or any HTTP/1.1 Upgrade) handshake: the request head goes to
 * the share as is (forwarding headers replaced), then bytes flow both ways
 * until either side closes.
 */
export function forwardUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer, tunnel: Duplex, visitor: Visitor, throttle: () => Transform | undefined = () => undefined): Promise<{ bytesIn: number, bytesOut: number }> {
  const headers = requestHeaders(req.headers, visitor, true)
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`
  for (const [k, v] of Object.entries(headers)) {
    for (const one of Array.isArray(v) ? v : [v]) {
      if (one != null) text += `${k}: ${String(one).replace(/[\r\n]/g, '')}\r\n`
    }
  }
  socket.on('error', () => {})
  tunnel.on('error', () => {})
  tunnel.write(text + '\r\n')
  if (head.length > 0) tunnel.write(head)
  let bytesIn = head.length
  let bytesOut = 0
  socket.on('data', (c: Buffer) => { bytesIn += c.length })
  tunnel.on('data', (c: Buffer) => { bytesOut += c.length })
  const up = throttle()
  const down = throttle()
  if (up != null) socket.pipe(up).pipe(tunnel)
  else socket.pipe(tunnel)
  if (down != null) tunnel.pipe(down).pipe(socket)
  else tunnel.pipe(socket)
  return new Promise(resolve => {
    const done = (): void => {
      socket.destroy()
      tunnel.destroy()
      resolve({ bytesIn, bytesOut })
    }
    socket.on('close', done)
    tunnel.on('close', done)
    socket.on('error', done)
    tunnel.on('error', done)
  })
}

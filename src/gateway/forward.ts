import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Duplex, Readable, Transform } from 'node:stream'
import { Uint8ArrayList } from 'uint8arraylist'
import { BadResponseError, HOP_BY_HOP, ResponseParser } from './response-parser.ts'
import type { UpstreamPool, Upstream } from './upstream.ts'

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
const CRLF = Buffer.from('\r\n', 'latin1')
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1')

/** Whether an HTTP/2 request's HEADERS frame ended its stream (no body follows). */
function endedWithHeaders (req: VisitorRequest): boolean {
  return (req as Http2ServerRequest).stream?.endAfterHeaders === true
}

/**
 * The request line and header block sent to the share, and how its body is
 * framed: as the visitor's Content-Length said, else chunked (an HTTP/2
 * visitor's body, or an HTTP/1.1 chunked one); none when it has none.
 */
function requestHead (req: VisitorRequest, headers: OutgoingHttpHeaders, body: 'none' | 'length' | 'chunked'): string {
  // a path from an HTTP/2 visitor may hold what an HTTP/1.1 request line cannot
  const path = (req.url ?? '/').replace(/[\x00-\x20\x7f]/g, c => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)
  let text = `${req.method ?? 'GET'} ${path} HTTP/1.1\r\n`
  for (const k in headers) {
    if (body === 'chunked' && k === 'content-length') continue
    const v = headers[k]
    if (v == null) continue
    if (Array.isArray(v)) { for (const one of v) text += `${k}: ${String(one).replace(/[\r\n\0]/g, '')}\r\n` } else text += `${k}: ${String(v).replace(/[\r\n\0]/g, '')}\r\n`
  }
  if (body === 'chunked') text += 'transfer-encoding: chunked\r\n'
  return text + '\r\n'
}

/**
 * Send the visitor's request over a tunnel stream of `pool` (a free one when
 * there is one, else a new one) and stream the answer back. `onNoResponse`
 * is called instead of answering when the share sent no response at all (the
 * caller shows a page; the error says why: refused, offline, a bad answer…).
 * A bodiless GET/HEAD/OPTIONS that failed on a pooled stream (the share's
 * service had just closed it) is sent once more on a new one. Resolves when
 * the visitor's response has ended or either side broke.
 */
export async function forwardRequest (req: VisitorRequest, res: VisitorResponse, pool: UpstreamPool, visitor: Visitor, onNoResponse: (err: Error) => void, throttle: () => Transform | undefined = () => undefined): Promise<ForwardResult> {
  const result: ForwardResult = { status: 0, bytesIn: 0, bytesOut: 0 }
  const method = req.method ?? 'GET'
  const headers = requestHeaders(req.headers, visitor)
  const noBody = bodiless(req) || endedWithHeaders(req)
  const length = req.headers['content-length']
  const framing = noBody ? 'none' : length != null && /^\d+$/.test(length) ? 'length' : 'chunked'
  const head = Buffer.from(requestHead(req, headers, framing), 'latin1')
  const writable = res as NodeJS.WritableStream
  return await new Promise<ForwardResult>(resolve => {
    let settled = false
    let current: Upstream | undefined
    // the body reader, while the visitor's body is being sent
    let source: Readable | undefined
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      if (err != null) result.error = err
      resolve(result)
    }
    // the visitor went away: the share's side goes too (the stream is reset, not pooled)
    res.on('close', () => {
      if (res.writableFinished) return
      const up = current
      current = undefined
      finish(new Error('visitor closed the connection'))
      up?.destroy()
    })
    res.once('finish', () => { finish() })

    const attempt = (first: boolean, up: Upstream, reused: boolean): void => {
      current = up
      let requestSent = noBody
      let responseDone = false
      let reusable = false
      let keepAliveMs: number | undefined
      let sink: NodeJS.WritableStream = writable
      // the visitor's response is full: hold the share's bytes until it drains
      // (only while this exchange holds the stream: a visitor's late drain must not resume the next exchange's stream)
      const resume = (): void => { if (current === up) up.reads.resume(() => (sink as unknown as { writableNeedDrain?: boolean }).writableNeedDrain === true) }
      const done = (): void => {
        if (!responseDone || !requestSent || current !== up) return
        current = undefined
        if (reusable) pool.release(up, keepAliveMs)
        else up.closeIdle()
      }
      const broke = (err: Error): void => {
        if (current !== up) return
        current = undefined
        up.user = undefined
        up.destroy(err)
        // the visitor has its whole answer: only the stream goes (bytes after the answer, a late reset)
        if (responseDone) return
        if (result.status === 0 && !res.headersSent) {
          if (first && reused && noBody && IDEMPOTENT.has(method)) { retry(); return }
          onNoResponse(err)
          finish(err)
        } else {
          res.destroy(err)
          finish(err)
        }
      }
      const parser = new ResponseParser({
        onHead: (h) => {
          keepAliveMs = h.keepAliveMs
          // Node refuses what it would not send (a header its own rules reject): a bad answer, shown as such
          try { writeHead(res, h.status, h.headers) } catch (err) { throw new BadResponseError(`the share's answer head cannot be forwarded: ${(err as Error).message}`) }
          result.status = h.status
          const slow = throttle()
          if (slow != null) { slow.pipe(writable); sink = slow; slow.on('drain', resume) } else res.on('drain', resume)
        },
        onBody: (chunk) => {
          result.bytesOut += chunk.length
          if (!sink.write(chunk as Buffer)) up.reads.pause()
        },
        onEnd: (keep) => {
          responseDone = true
          reusable = keep
          sink.end()
          if (!requestSent) {
            // the share answered before the visitor's body was sent: the rest is not wanted, and the stream cannot be reused
            current = undefined
            up.user = undefined
            up.destroy()
          }
          done()
        }
      }, { head: method === 'HEAD' })
      up.user = {
        data: (d) => { try { parser.push(d) } catch (err) { broke(err as Error) } },
        end: () => { try { parser.finish() } catch (err) { broke(err as Error) } },
        fail: (err) => { broke(err) },
        drain: () => { source?.resume() }
      }
      try {
        up.send(head)
      } catch (err) { broke(err as Error); return }
      if (noBody) return
      // the visitor's body: through the bandwidth limit, when there is one; the stream's backpressure holds the visitor
      const slow = throttle()
      const from: Readable = slow != null ? (req as Readable).pipe(slow) : req as Readable
      source = from
      // (read only from here: a listener before the stream is there would let the body flow into nothing)
      const declared = framing === 'length' ? Number(length) : Infinity
      from.on('data', (chunk: Buffer) => {
        if (current !== up) return
        result.bytesIn += chunk.length
        // more than the visitor's Content-Length would reach the service as the start of another request
        if (result.bytesIn > declared) { broke(new Error('the visitor sent more than its Content-Length')); return }
        try {
          const more = framing === 'chunked'
            ? up.send(new Uint8ArrayList(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF))
            : up.send(chunk)
          if (!more) from.pause()
        } catch (err) { broke(err as Error) }
      })
      from.on('end', () => {
        if (current !== up) return
        if (framing === 'length' && result.bytesIn !== declared) { broke(new Error('the visitor sent less than its Content-Length')); return }
        try {
          if (framing === 'chunked') up.send(LAST_CHUNK)
        } catch (err) { broke(err as Error); return }
        requestSent = true
        done()
      })
    }
    const retry = (): void => {
      pool.acquire().then(({ up }) => { if (settled) { pool.release(up); return } attempt(false, up, false) }, (err: Error) => { onNoResponse(err); finish(err) })
    }
    pool.acquire().then(({ up, reused }) => {
      if (settled) { pool.release(up); return }
      attempt(true, up, reused)
    }, (err: Error) => {
      onNoResponse(err)
      finish(err)
    })
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

import type { OutgoingHttpHeaders } from 'node:http'

/**
 * Reads a share's HTTP/1.1 answers off a tunnel stream, incrementally: the
 * status line and header block, then the body as its framing says
 * (Content-Length, chunked, or up to the stream's end), RFC 9112 section 6.
 * The gateway forwards the body as it arrives and learns when the answer is
 * complete and whether the stream can carry another request.
 *
 * Strict where leniency lets two readers disagree on where an answer ends
 * (response splitting): conflicting Content-Length values, obsolete line
 * folding, a bad chunk size and bytes after a final answer on a stream that
 * must close are errors, not guesses.
 */

/** The share's answer could not be read as HTTP/1.1. */
export class BadResponseError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'BadResponseError'
  }
}

/** A parsed status line and header block. */
export interface ResponseHead {
  status: number
  /** The headers as the visitor gets them: hop-by-hop headers dropped, names in lower case. */
  headers: OutgoingHttpHeaders
  /** How long the service keeps an idle connection open, when its Keep-Alive header says (`timeout=N`, in ms). */
  keepAliveMs?: number
}

/** What the parser reports; each callback runs synchronously inside {@link ResponseParser.push} or {@link ResponseParser.finish}. */
export interface ResponseParserEvents {
  /** The final (non-1xx) head. Informational answers (100, 103) are read and dropped. */
  onHead: (head: ResponseHead) => void
  /** Body bytes, de-chunked. The chunk may be a view of the pushed bytes: copy it to keep it past the call. */
  onBody: (chunk: Uint8Array) => void
  /** The answer is complete. `reusable`: the stream may carry the next request. */
  onEnd: (reusable: boolean) => void
}

/** Options of a {@link ResponseParser}. */
export interface ResponseParserOptions {
  /** The request was HEAD: the answer has no body, whatever its headers say. @default false */
  head?: boolean
  /** Bytes a header block (or a chunked body's trailers) may take. @default 65536 */
  maxHeadBytes?: number
}

/** Headers that describe one hop, never forwarded (RFC 9110 7.6.1, plus HTTP/2's). */
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'])

/** Headers a response carries once: a second copy is dropped, as Node's own HTTP client does (HTTP/2 rejects them twice). */
const SINGLE = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent'])

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/
const DIGITS = /^\d{1,15}$/
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/
const HEX = /^[0-9A-Fa-f]{1,12}$/

const CR = 13
const LF = 10

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'until-close' | 'done'

/** One answer's worth of parsing state; {@link reset} makes it ready for the next request on the same stream. */
export class ResponseParser {
  private readonly events: ResponseParserEvents
  private readonly maxHeadBytes: number
  private headRequest: boolean
  private state: State = 'head'
  /** Bytes of an unfinished head, chunk size line or trailer line. */
  private readonly pending = new Bytes()
  /** Body bytes still due (Content-Length or the current chunk). */
  private left = 0
  private keepAlive = true
  private trailerBytes = 0

  constructor (events: ResponseParserEvents, options: ResponseParserOptions = {}) {
    this.events = events
    this.maxHeadBytes = options.maxHeadBytes ?? 65536
    this.headRequest = options.head ?? false
  }

  /** Ready for the answer to the next request on the stream. */
  reset (options: { head?: boolean } = {}): void {
    this.headRequest = options.head ?? false
    this.state = 'head'
    this.pending.clear()
    this.left = 0
    this.keepAlive = true
    this.trailerBytes = 0
  }

  /** Whether the answer is complete. */
  get done (): boolean { return this.state === 'done' }

  /** Whether the head has been read (the visitor's response has started). */
  get started (): boolean { return this.state !== 'head' }

  /**
   * Feed bytes from the stream. Throws {@link BadResponseError} for a
   * malformed answer, and for bytes after a complete one (a share never
   * sends before it is asked: such bytes would be read as the next answer).
   */
  push (data: Uint8Array): void {
    let buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    while (buf.length > 0) {
      switch (this.state) {
        case 'head': buf = this.readHead(buf); break
        case 'length': buf = this.readLength(buf); break
        case 'chunk-size': buf = this.readChunkSize(buf); break
        case 'chunk-data': buf = this.readChunkData(buf); break
        case 'chunk-crlf': buf = this.readChunkEnd(buf); break
        case 'trailers': buf = this.readTrailers(buf); break
        case 'until-close': this.events.onBody(buf); buf = EMPTY; break
        case 'done': throw new BadResponseError('the share sent bytes after a complete answer')
      }
    }
  }

  /**
   * The stream ended (the share finished sending). Completes an answer whose
   * body runs to the end of the stream; throws {@link BadResponseError} when
   * the answer was cut short. Nothing is reported for a stream that ended
   * between answers (state `head` with no bytes): the caller decides.
   */
  finish (): void {
    if (this.state === 'done') return
    if (this.state === 'until-close') { this.state = 'done'; this.events.onEnd(false); return }
    if (this.state === 'head' && this.pending.length === 0) throw new BadResponseError('the share closed the stream without an answer')
    throw new BadResponseError(this.state === 'head' ? 'the share closed the stream inside an answer\'s head' : 'the share closed the stream before the answer\'s body was complete')
  }

  /** Collect up to a line end (`\n`); returns the line without CR LF, or undefined (and keeps the bytes) when none came yet. */
  private line (buf: Buffer, limit: number, what: string): { line: string, rest: Buffer } | undefined {
    const at = buf.indexOf(LF)
    if (at < 0) {
      this.pending.add(buf)
      if (this.pending.length > limit) throw new BadResponseError(`the share's ${what} is longer than ${limit} bytes`)
      return undefined
    }
    const whole = this.pending.take(buf.subarray(0, at))
    if (whole.length > limit) throw new BadResponseError(`the share's ${what} is longer than ${limit} bytes`)
    const end = whole.length > 0 && whole[whole.length - 1] === CR ? whole.length - 1 : whole.length
    return { line: whole.toString('latin1', 0, end), rest: buf.subarray(at + 1) }
  }

  private readHead (buf: Buffer): Buffer {
    // the head ends with an empty line: LF, then CR LF or LF. Only the new
    // bytes and the last two buffered ones are searched (bytes that trickle
    // in one by one cost linear time, not quadratic)
    const before = this.pending.length
    const tail = this.pending.tail(2)
    const window = tail.length === 0 ? buf : Buffer.concat([tail, buf])
    const crlf = window.indexOf(EMPTY_CRLF)
    const lf = window.indexOf(EMPTY_LF)
    const at = crlf < 0 ? lf : lf < 0 ? crlf : Math.min(crlf, lf)
    if (at < 0) {
      this.pending.add(buf)
      if (this.pending.length > this.maxHeadBytes) throw new BadResponseError(`the share's answer head is longer than ${this.maxHeadBytes} bytes`)
      return EMPTY
    }
    // where the empty line starts, in the buffered bytes plus the new ones
    const end = before - tail.length + at + 1
    if (end > this.maxHeadBytes) throw new BadResponseError(`the share's answer head is longer than ${this.maxHeadBytes} bytes`)
    const joined = this.pending.take(buf)
    const text = joined.toString('latin1', 0, end)
    const after = joined.subarray(end + (joined[end] === CR ? 2 : 1))
    this.startBody(text)
    return after
  }

  /** Parse a head's text (without its empty line) and choose how the body is read. */
  private startBody (text: string): void {
    const lines = text.split('\n')
    const statusLine = trimCr(lines[0] ?? '')
    const m = STATUS_LINE.exec(statusLine)
    if (m == null) throw new BadResponseError(`the share's answer does not start with an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 80))}`)
    const minor = m[1]
    const status = Number(m[2])
    if (status < 100) throw new BadResponseError(`the share answered with status ${status}`)
    const headers: OutgoingHttpHeaders = {}
    let contentLength: number | undefined
    let transferEncoding: string | undefined
    let connection = ''
    let keepAliveMs: number | undefined
    for (let i = 1; i < lines.length; i++) {
      const l = trimCr(lines[i] ?? '')
      if (l === '') continue
      const colon = l.indexOf(':')
      if (l.charCodeAt(0) === 32 || l.charCodeAt(0) === 9) throw new BadResponseError('the share\'s answer folds a header over lines (obsolete, RFC 9112 5.2)')
      if (colon <= 0) throw new BadResponseError(`the share's answer has a header line without a name: ${JSON.stringify(l.slice(0, 80))}`)
      const name = l.slice(0, colon)
      if (!TOKEN.test(name)) throw new BadResponseError(`the share's answer has a bad header name: ${JSON.stringify(name.slice(0, 80))}`)
      const value = l.slice(colon + 1).trim()
      // control characters other than tab: no HTTP/1.1 or HTTP/2 response to the visitor may carry them
      if (CONTROL.test(value)) throw new BadResponseError(`the share's answer has a control character in the value of ${name}`)
      const k = name.toLowerCase()
      if (k === 'content-length') {
        // "5, 5" is one length said twice (RFC 9110 8.6); anything else is two lengths
        for (const part of value.split(',')) {
          const v = part.trim()
          if (!DIGITS.test(v)) throw new BadResponseError(`the share's answer has a bad Content-Length: ${JSON.stringify(value.slice(0, 40))}`)
          if (contentLength != null && contentLength !== Number(v)) throw new BadResponseError('the share\'s answer has two different Content-Length values')
          contentLength = Number(v)
        }
      } else if (k === 'transfer-encoding') {
        transferEncoding = transferEncoding == null ? value : `${transferEncoding}, ${value}`
      } else if (k === 'connection') {
        connection = connection === '' ? value : `${connection}, ${value}`
      } else if (k === 'keep-alive') {
        const t = /(?:^|[,\s])timeout=(\d{1,9})/i.exec(value)
        if (t != null) keepAliveMs = Number(t[1]) * 1000
      }
      if (HOP_BY_HOP.has(k)) continue
      const had = headers[k]
      if (had == null) headers[k] = k === 'set-cookie' ? [value] : value
      else if (k === 'set-cookie') (had as string[]).push(value)
      else if (!SINGLE.has(k)) headers[k] = `${String(had)}, ${value}`
    }
    if (status >= 100 && status < 200) {
      // 100 Continue, 103 Early Hints: the final answer follows on the same stream
      if (status === 101) throw new BadResponseError('the share switched protocols on a request that asked for no upgrade')
      this.state = 'head'
      return
    }
    const tokens = connection === '' ? [] : connection.split(',').map(t => t.trim().toLowerCase())
    for (const t of tokens) if (t !== 'close' && t !== 'keep-alive') delete headers[t]
    this.keepAlive = minor === '1' ? !tokens.includes('close') : tokens.includes('keep-alive')
    const head: ResponseHead = keepAliveMs != null ? { status, headers, keepAliveMs } : { status, headers }
    if (status === 204 || status === 304 || this.headRequest) {
      this.events.onHead(head)
      this.complete()
      return
    }
    if (transferEncoding != null) {
      // chunked must be the last coding; a body without it runs to the stream's end (RFC 9112 6.3, item 4)
      delete headers['content-length']
      const codings = transferEncoding.split(',').map(t => t.trim().toLowerCase())
      this.events.onHead(head)
      if (codings[codings.length - 1] === 'chunked') {
        // any coding before chunked stays on the body, and the visitor must know it
        const others = codings.slice(0, -1).filter(c => c !== '')
        if (others.length > 0) throw new BadResponseError(`the share's answer uses a transfer coding the gateway does not forward: ${others.join(', ')}`)
        this.state = 'chunk-size'
      } else {
        this.keepAlive = false
        this.state = 'until-close'
      }
      return
    }
    this.events.onHead(head)
    if (contentLength != null) {
      if (contentLength === 0) { this.complete(); return }
      this.left = contentLength
      this.state = 'length'
      return
    }
    this.keepAlive = false
    this.state = 'until-close'
  }

  private readLength (buf: Buffer): Buffer {
    if (buf.length <= this.left) {
      this.left -= buf.length
      this.events.onBody(buf)
      if (this.left === 0) this.complete()
      return EMPTY
    }
    const body = buf.subarray(0, this.left)
    const rest = buf.subarray(this.left)
    this.left = 0
    this.events.onBody(body)
    this.complete()
    return rest
  }

  private readChunkSize (buf: Buffer): Buffer {
    const got = this.line(buf, 1024, 'chunk size line')
    if (got == null) return EMPTY
    const semi = got.line.indexOf(';')
    const size = (semi < 0 ? got.line : got.line.slice(0, semi)).trim()
    if (!HEX.test(size)) throw new BadResponseError(`the share's answer has a bad chunk size: ${JSON.stringify(got.line.slice(0, 40))}`)
    this.left = parseInt(size, 16)
    this.state = this.left === 0 ? 'trailers' : 'chunk-data'
    return got.rest
  }

  private readChunkData (buf: Buffer): Buffer {
    if (buf.length <= this.left) {
      this.left -= buf.length
      this.events.onBody(buf)
      if (this.left === 0) this.state = 'chunk-crlf'
      return EMPTY
    }
    const body = buf.subarray(0, this.left)
    const rest = buf.subarray(this.left)
    this.left = 0
    this.state = 'chunk-crlf'
    this.events.onBody(body)
    return rest
  }

  private readChunkEnd (buf: Buffer): Buffer {
    const got = this.line(buf, 2, 'chunk end')
    if (got == null) return EMPTY
    if (got.line !== '') throw new BadResponseError('the share\'s answer has a chunk longer than its size')
    this.state = 'chunk-size'
    return got.rest
  }

  /** Trailer fields after the last chunk: read and dropped (the gateway forwards none), up to the empty line. */
  private readTrailers (buf: Buffer): Buffer {
    let rest = buf
    for (;;) {
      const got = this.line(rest, this.maxHeadBytes, 'trailer block')
      if (got == null) return EMPTY
      this.trailerBytes += got.line.length + 2
      if (this.trailerBytes > this.maxHeadBytes) throw new BadResponseError(`the share's trailer block is longer than ${this.maxHeadBytes} bytes`)
      rest = got.rest
      if (got.line === '') { this.complete(); return rest }
    }
  }

  private complete (): void {
    this.state = 'done'
    this.events.onEnd(this.keepAlive)
  }
}

const EMPTY = Buffer.alloc(0)
const EMPTY_CRLF = Buffer.from('\n\r\n', 'latin1')
const EMPTY_LF = Buffer.from('\n\n', 'latin1')

/** Bytes kept across pushes, as a list of copies (joined once, when complete). */
class Bytes {
  private parts: Buffer[] = []
  length = 0

  add (buf: Buffer): void {
    this.parts.push(Buffer.from(buf))
    this.length += buf.length
  }

  /** The last `n` bytes (fewer when fewer are kept). */
  tail (n: number): Buffer {
    if (this.length === 0) return EMPTY
    // from the end, as few parts as hold n bytes
    const from: Buffer[] = []
    let got = 0
    for (let i = this.parts.length - 1; i >= 0 && got < n; i--) {
      const part = this.parts[i] as Buffer
      from.unshift(part)
      got += part.length
    }
    const joined = from.length === 1 ? from[0] as Buffer : Buffer.concat(from)
    return joined.subarray(Math.max(0, joined.length - n))
  }

  /** Everything kept, then `more`, as one buffer; empties the list. */
  take (more: Buffer): Buffer {
    if (this.length === 0) return more
    const all = Buffer.concat([...this.parts, more])
    this.clear()
    return all
  }

  clear (): void {
    this.parts = []
    this.length = 0
  }
}

function trimCr (s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s
}

/**
 * One TCP connection to a SAM v3 bridge, in its line phase: connect, HELLO,
 * then command/reply lines. A stream socket (STREAM CONNECT/ACCEPT) leaves the
 * line phase with `release()`, which hands over the net.Socket and any bytes
 * already read past the last reply line.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { SamAbortError, SamProtocolError, SamTimeoutError, SamUnreachableError } from './errors.ts'

/** Where the SAM bridge listens. */
export interface SamAddress {
  host: string
  port: number
}

export interface SamWaitOptions {
  signal?: AbortSignal
  /** Bound for this step, in milliseconds. */
  timeoutMs: number
}

/** A parsed reply line: `SESSION STATUS RESULT=OK DESTINATION=…`. */
export interface SamReply {
  topic: string
  params: Record<string, string>
  raw: string
}

/** Longest reply line accepted (a DEST REPLY with keys is ~1.8 KB). */
const MAX_LINE = 64 * 1024

export function parseReply (line: string): SamReply {
  const words: string[] = []
  const params: Record<string, string> = {}
  let i = 0
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++
    if (i >= line.length) break
    let key = ''
    while (i < line.length && line[i] !== ' ' && line[i] !== '=') key += line[i++]
    if (line[i] !== '=') {
      if (Object.keys(params).length === 0) words.push(key)
      continue
    }
    i++ // '='
    let value = ''
    if (line[i] === '"') {
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++
        value += line[i++]
      }
      i++ // closing quote
    } else {
      while (i < line.length && line[i] !== ' ') value += line[i++]
    }
    params[key] = value
  }
  return { topic: words.slice(0, 2).join(' '), params, raw: line }
}

/** Strip keys from a line before it goes into an error message or a log. */
export function redact (line: string): string {
  return line.replace(/(DESTINATION|PRIV|PUB|VALUE)=\S{40,}/g, (_, k: string) => `${k}=…`).slice(0, 300)
}

export class SamSocket {
  readonly socket: Socket
  private buffer: Buffer = Buffer.alloc(0)
  private waiter?: () => void
  private closedError?: Error
  private readonly onData = (chunk: Buffer): void => {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    this.waiter?.()
  }

  private readonly onEnd = (): void => {
    this.closedError ??= new SamUnreachableError('the SAM bridge closed the connection')
    this.waiter?.()
  }

  private readonly onError = (err: Error): void => {
    this.closedError ??= new SamUnreachableError(`SAM connection failed: ${err.message}`, { cause: err })
    this.waiter?.()
  }

  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', this.onData)
    socket.on('end', this.onEnd)
    socket.on('close', this.onEnd)
    socket.on('error', this.onError)
  }

  /** Open a connection to the bridge and say HELLO (SAM 3.1–3.3). */
  static async open (addr: SamAddress, options: SamWaitOptions): Promise<SamSocket> {
    const socket = await connectTcp(addr, options)
    const s = new SamSocket(socket)
    try {
      const reply = await s.command('HELLO VERSION MIN=3.1 MAX=3.3', options)
      if (reply.topic !== 'HELLO REPLY') throw new SamProtocolError(`${addr.host}:${addr.port} is not a SAM v3 bridge (it answered "${redact(reply.raw)}")`)
      expectOk(reply, 'HELLO')
      return s
    } catch (err) {
      s.destroy()
      throw err
    }
  }

  /** Send one command line and read one reply line. */
  async command (line: string, options: SamWaitOptions): Promise<SamReply> {
    this.socket.write(`${line}\n`)
    return parseReply(await this.readLine(options))
  }

  /** Read one line (without its newline). */
  async readLine (options: SamWaitOptions): Promise<string> {
    const { signal, timeoutMs } = options
    signal?.throwIfAborted()
    return await new Promise<string>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const onAbort = (): void => { finish(new SamAbortError()) }
      const finish = (err?: Error, line?: string): void => {
        this.waiter = undefined
        if (timer != null) clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        if (err != null) reject(err)
        else resolve(line ?? '')
      }
      const check = (): void => {
        const nl = this.buffer.indexOf(0x0a)
        if (nl >= 0) {
          const line = this.buffer.subarray(0, nl).toString('utf8').replace(/\r$/, '')
          this.buffer = this.buffer.subarray(nl + 1)
          finish(undefined, line)
        } else if (this.buffer.length > MAX_LINE) {
          finish(new SamProtocolError(`SAM reply line longer than ${MAX_LINE} bytes`))
        } else if (this.closedError != null) {
          finish(this.closedError)
        }
      }
      this.waiter = check
      timer = setTimeout(() => { finish(new SamTimeoutError(`no SAM reply within ${timeoutMs} ms`)) }, timeoutMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      check()
    })
  }

  /** Leave the line phase: the socket and the bytes read past the last line. */
  release (): { socket: Socket, leftover: Buffer } {
    this.socket.off('data', this.onData)
    this.socket.off('end', this.onEnd)
    this.socket.off('close', this.onEnd)
    this.socket.off('error', this.onError)
    const leftover = this.buffer
    this.buffer = Buffer.alloc(0)
    return { socket: this.socket, leftover }
  }

  /** Whether the bridge closed this connection (for a session socket: the session is gone). */
  get closed (): boolean {
    return this.closedError != null
  }

  onClose (fn: () => void): void {
    this.socket.once('close', fn)
  }

  destroy (): void {
    this.socket.destroy()
  }
}

/** Throw a SamProtocolError unless the reply says RESULT=OK. */
export function expectOk (reply: SamReply, what: string): void {
  const result = reply.params.RESULT
  if (result === 'OK') return
  const message = reply.params.MESSAGE
  throw new SamProtocolError(`SAM ${what} failed: ${result ?? 'no RESULT'}${message != null ? ` (${message})` : ''}`, result)
}

async function connectTcp (addr: SamAddress, options: SamWaitOptions): Promise<Socket> {
  options.signal?.throwIfAborted()
  return await new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: addr.host, port: addr.port })
    socket.setNoDelay(true)
    const timer = setTimeout(() => { done(new SamTimeoutError(`SAM bridge ${addr.host}:${addr.port} did not accept a connection within ${options.timeoutMs} ms`)) }, options.timeoutMs)
    const onAbort = (): void => { done(new SamAbortError()) }
    const onError = (err: NodeJS.ErrnoException): void => {
      done(new SamUnreachableError(`no SAM bridge at ${addr.host}:${addr.port} (${err.code ?? err.message})`, { cause: err }))
    }
    const done = (err?: Error): void => {
      clearTimeout(timer)
      socket.off('error', onError)
      socket.off('connect', onConnect)
      options.signal?.removeEventListener('abort', onAbort)
      if (err != null) {
        socket.destroy()
        reject(err)
      } else resolve(socket)
    }
    const onConnect = (): void => { done() }
    socket.once('error', onError)
    socket.once('connect', onConnect)
    options.signal?.addEventListener('abort', onAbort, { once: true })
  })
}

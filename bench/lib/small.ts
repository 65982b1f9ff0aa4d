/**
 * Small-request load: what a Redis, a keep-alive HTTP server or a database
 * sees through a tunnel. Every measurement runs for a fixed time against the
 * service's echo protocol (first byte 'E': everything after it comes back)
 * or its HTTP side, and counts completed requests. Each answer is checked
 * byte for byte (an echo that came back wrong or out of order fails the
 * measurement). Everything talks to 127.0.0.1:<port>; every wait is bounded.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'

/** A completed measurement: requests answered in `seconds`. */
export interface RateResult {
  requests: number
  seconds: number
  perSecond: number
}

export class SmallLoadError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SmallLoadError'
  }
}

function open (port: number): Socket {
  return connect({ host: '127.0.0.1', port, noDelay: true })
}

/** A request of `size` bytes whose content says which one it is (so a reordering is seen). */
function message (i: number, size: number): Buffer {
  const b = Buffer.alloc(size, 0x61 + (i % 26))
  b.writeUInt32BE(i >>> 0, 0)
  return b
}

/**
 * One connection to the echo service: sends `depth` messages of `size` bytes
 * at once, waits for all of them to come back (checked), and repeats until
 * `until` (performance.now()). depth 1 is request/response; more is a
 * pipelining client (redis-benchmark -P). Resolves the messages echoed.
 */
async function echoLoop (port: number, size: number, depth: number, until: number, timeoutMs: number): Promise<number> {
  const socket = open(port)
  let done = 0
  let sent = 0
  let expected = Buffer.alloc(0)
  let got = 0
  return await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); reject(new SmallLoadError(`echo: no answer within ${timeoutMs} ms`)) }, timeoutMs)
    const finish = (err?: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      if (err != null) reject(err)
      else resolve(done)
    }
    const round = (): void => {
      const parts: Buffer[] = []
      for (let i = 0; i < depth; i++) parts.push(message(sent++, size))
      expected = Buffer.concat(parts)
      got = 0
      // a pipelining client writes its batch as one buffer, as Redis clients do
      socket.write(expected)
    }
    socket.on('error', (err) => { finish(err) })
    socket.on('end', () => { finish(new SmallLoadError(`echo: the tunnel ended after ${done} messages`)) })
    socket.once('connect', () => { socket.write('E'); round() })
    socket.on('data', (chunk: Buffer) => {
      if (got + chunk.length > expected.length || !chunk.equals(expected.subarray(got, got + chunk.length))) {
        finish(new SmallLoadError(`echo: wrong bytes at offset ${got} of message batch ending at ${sent}`))
        return
      }
      got += chunk.length
      if (got < expected.length) return
      done += depth
      if (performance.now() >= until) finish()
      else round()
    })
  })
}

/**
 * `connections` keep-alive connections, each a request/response (or, with
 * `depth` > 1, pipelining) loop of `size`-byte echoes, for `seconds`.
 */
export async function echoRate (port: number, options: { seconds: number, size: number, connections: number, depth: number }): Promise<RateResult> {
  const start = performance.now()
  const until = start + options.seconds * 1000
  const counts = await Promise.all(Array.from({ length: options.connections }, async () =>
    await echoLoop(port, options.size, options.depth, until, options.seconds * 1000 + 30_000)))
  const seconds = (performance.now() - start) / 1000
  const requests = counts.reduce((a, b) => a + b, 0)
  return { requests, seconds, perSecond: requests / seconds }
}

const HTTP_REQUEST = Buffer.from('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')

/** One HTTP request on a new connection: connect, ask, read to the server's close; checks the answer. */
async function oneNewConnection (port: number, timeoutMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = open(port)
    const parts: Buffer[] = []
    const t = setTimeout(() => { s.destroy(); reject(new SmallLoadError(`new connection: no answer within ${timeoutMs} ms`)) }, timeoutMs)
    s.once('connect', () => { s.write(HTTP_REQUEST) })
    s.on('data', (c: Buffer) => { parts.push(c) })
    s.once('error', (err) => { clearTimeout(t); reject(err) })
    s.once('end', () => {
      clearTimeout(t)
      s.destroy()
      const text = Buffer.concat(parts).toString('latin1')
      if (!text.startsWith('HTTP/1.1 200') || !text.endsWith('\r\n\r\nok')) reject(new SmallLoadError(`new connection: unexpected answer ${JSON.stringify(text.slice(0, 60))}`))
      else resolve()
    })
  })
}

/** `workers` clients, each opening a new connection per HTTP request, for `seconds` (as `hey` without keep-alive). */
export async function newConnectionRate (port: number, options: { seconds: number, workers: number }): Promise<RateResult> {
  const start = performance.now()
  const until = start + options.seconds * 1000
  let requests = 0
  await Promise.all(Array.from({ length: options.workers }, async () => {
    while (performance.now() < until) {
      await oneNewConnection(port, 15_000)
      requests++
    }
  }))
  const seconds = (performance.now() - start) / 1000
  return { requests, seconds, perSecond: requests / seconds }
}

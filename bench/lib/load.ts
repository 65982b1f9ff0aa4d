/**
 * The client side of every measurement: bulk transfers, HTTP request
 * latency, first byte, many concurrent connections. Everything talks to
 * 127.0.0.1:<port>, where either the service or a tunnel's local end listens.
 * Every operation is bounded by a deadline.
 */
import { createHash } from 'node:crypto'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { Agent, request } from 'node:http'
import { BLOCK, BLOCK_SIZE, encodeHeader, patternHash } from './pattern.ts'

export class BenchTimeoutError extends Error {
  constructor (what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`)
    this.name = 'BenchTimeoutError'
  }
}

function open (port: number): Socket {
  return connect({ host: '127.0.0.1', port, noDelay: true })
}

/** Result of one bulk transfer. */
export interface BulkResult {
  bytes: number
  seconds: number
  /** Decimal megabytes per second (10^6 bytes), as in the figures. */
  mbps: number
  /** With verify: whether the SHA-256 on the far side matched. */
  verified?: boolean
}

/** Upload `size` bytes to the service; done when it acknowledges the last byte. */
export async function upload (port: number, size: number, options: { verify?: boolean, timeoutMs: number }): Promise<BulkResult> {
  const verify = options.verify === true
  const start = performance.now()
  const socket = open(port)
  return await new Promise<BulkResult>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); reject(new BenchTimeoutError(`upload of ${size} bytes`, options.timeoutMs)) }, options.timeoutMs)
    const reply: Buffer[] = []
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('data', (c: Buffer) => { reply.push(c) })
    socket.on('end', () => {
      clearTimeout(timer)
      const seconds = (performance.now() - start) / 1000
      const got = Buffer.concat(reply)
      const r: BulkResult = { bytes: size, seconds, mbps: size / 1e6 / seconds }
      if (verify) r.verified = got.toString('hex') === patternHash(size)
      else if (got.length !== 1) { reject(new Error('upload: no acknowledgement')); return }
      socket.destroy()
      resolve(r)
    })
    socket.once('connect', () => {
      socket.write(encodeHeader('U', size, verify))
      let left = size
      const more = (): void => {
        while (left > 0) {
          const n = Math.min(left, BLOCK_SIZE)
          left -= n
          if (!socket.write(n === BLOCK_SIZE ? BLOCK : BLOCK.subarray(0, n))) { socket.once('drain', more); return }
        }
      }
      more()
    })
  })
}

/** Download `size` bytes from the service; done at its end of stream. */
export async function download (port: number, size: number, options: { verify?: boolean, timeoutMs: number }): Promise<BulkResult> {
  const verify = options.verify === true
  const start = performance.now()
  const socket = open(port)
  const hash = verify ? createHash('sha256') : null
  let got = 0
  return await new Promise<BulkResult>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); reject(new BenchTimeoutError(`download of ${size} bytes`, options.timeoutMs)) }, options.timeoutMs)
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.once('connect', () => { socket.write(encodeHeader('D', size, false)) })
    socket.on('data', (c: Buffer) => { got += c.length; hash?.update(c) })
    socket.on('end', () => {
      clearTimeout(timer)
      const seconds = (performance.now() - start) / 1000
      socket.destroy()
      if (got !== size) { reject(new Error(`download: got ${got} of ${size} bytes`)); return }
      const r: BulkResult = { bytes: size, seconds, mbps: size / 1e6 / seconds }
      if (hash != null) r.verified = hash.digest('hex') === patternHash(size)
      resolve(r)
    })
  })
}

/** One `GET /` through `agent` (keep-alive) or a new connection; resolves the time to the full answer in ms. */
async function get (port: number, agent: Agent | false, timeoutMs: number): Promise<number> {
  const start = performance.now()
  return await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent, headers: agent === false ? { connection: 'close' } : {} }, (res) => {
      res.on('data', () => {})
      res.on('end', () => { resolve(performance.now() - start) })
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => { req.destroy(new BenchTimeoutError('HTTP request', timeoutMs)) })
    req.on('error', reject)
    req.end()
  })
}

export interface LatencyResult {
  /** Requests that got an answer. */
  ok: number
  failed: number
  p50Ms: number
  p99Ms: number
}

/** `count` sequential small HTTP requests, keep-alive (one connection) or a new connection each. */
export async function latency (port: number, count: number, keepAlive: boolean, options: { timeoutMs: number }): Promise<LatencyResult> {
  const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false
  const samples: number[] = []
  let failed = 0
  const deadline = performance.now() + options.timeoutMs
  try {
    // one warm-up request: the keep-alive connection, the tunnel's stream
    await get(port, agent, 10_000).catch(() => {})
    for (let i = 0; i < count && performance.now() < deadline; i++) {
      try { samples.push(await get(port, agent, 10_000)) } catch { failed++ }
    }
  } finally {
    if (agent !== false) agent.destroy()
  }
  samples.sort((a, b) => a - b)
  const at = (p: number): number => samples[Math.min(samples.length - 1, Math.max(0, Math.ceil(p / 100 * samples.length) - 1))] ?? NaN
  return { ok: samples.length, failed, p50Ms: at(50), p99Ms: at(99) }
}

/** Time from now to the first byte of an HTTP answer on a new connection to `port`, in ms (retries refused connects until the deadline). */
export async function firstByte (port: number, timeoutMs: number): Promise<number> {
  const start = performance.now()
  const deadline = start + timeoutMs
  for (;;) {
    try {
      await new Promise<void>((resolve, reject) => {
        const s = open(port)
        const t = setTimeout(() => { s.destroy(); reject(new BenchTimeoutError('first byte', timeoutMs)) }, Math.max(1, deadline - performance.now()))
        s.once('connect', () => { s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n') })
        s.once('data', () => { clearTimeout(t); s.destroy(); resolve() })
        s.once('error', (err) => { clearTimeout(t); reject(err) })
        s.once('end', () => { clearTimeout(t); reject(new Error('closed before the first byte')) })
      })
      return performance.now() - start
    } catch (err) {
      if (performance.now() >= deadline || err instanceof BenchTimeoutError) throw err
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }
}

export interface ConcurrencyResult {
  connections: number
  succeeded: number
  failed: number
  bytes: number
  seconds: number
  /** Aggregate decimal MB/s over all connections. */
  mbps: number
  /** The first failure, for the report. */
  error?: string
}

/** `connections` connections opened at once, each downloading `each` bytes. */
export async function concurrent (port: number, connections: number, each: number, options: { timeoutMs: number }): Promise<ConcurrencyResult> {
  const start = performance.now()
  let bytes = 0
  let firstError: string | undefined
  const results = await Promise.all(Array.from({ length: connections }, async () => {
    try {
      const r = await download(port, each, { timeoutMs: options.timeoutMs })
      bytes += r.bytes
      return true
    } catch (err) {
      firstError ??= (err as Error).message
      return false
    }
  }))
  const seconds = (performance.now() - start) / 1000
  const succeeded = results.filter(Boolean).length
  const r: ConcurrencyResult = { connections, succeeded, failed: connections - succeeded, bytes, seconds, mbps: bytes / 1e6 / seconds }
  if (firstError != null) r.error = firstError
  return r
}

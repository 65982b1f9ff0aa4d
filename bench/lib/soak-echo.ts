/**
 * The tunnel half of the soak (bench/soak.ts): many TCP connections through
 * one tunnel's local port to the echo protocol of the bench service
 * (service.ts: 'E', then every byte comes back), each kept busy with
 * request/answer rounds for the whole soak. Every answer is compared byte
 * for byte with what was sent; a connection that fails once is closed and
 * counted, never reopened, so that a loss shows as one.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import type { LoadCounters } from './soak-stats.ts'

/** Settings of the echo load. */
export interface EchoLoadOptions {
  /** The tunnel's local port on 127.0.0.1. */
  port: number
  /** Connections to open. */
  connections: number
  /** Pause between one answer and the next request on a connection, ms. @default 2000 */
  intervalMs?: number
  /** Bound on one request's answer (and on one connect), ms. @default 30000 */
  timeoutMs?: number
  /** Connections opened at once during the ramp. @default 50 */
  batch?: number
  /** Bound on the whole ramp, ms. @default 180000 */
  rampTimeoutMs?: number
}

/** Payload of request `n` on connection `id`: 64-1,087 bytes, different each time (xorshift32). */
export function payload (id: number, n: number): Buffer {
  let x = (Math.imul(id + 1, 0x9e3779b1) ^ Math.imul(n + 1, 0x85ebca6b)) >>> 0
  if (x === 0) x = 1
  const len = 64 + (x % 1024)
  const out = Buffer.allocUnsafe(len)
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

interface Conn {
  id: number
  socket: Socket
  n: number
  /** The request waiting for its echo, and its settle function. */
  want?: Buffer
  got: Buffer[]
  gotLen: number
  settle?: (err?: Error) => void
  next?: ReturnType<typeof setTimeout>
}

/** Many echo connections through one port; counters readable at any time. */
export class EchoLoad {
  private readonly opts: Required<EchoLoadOptions>
  private readonly conns = new Set<Conn>()
  private stopping = false
  readonly counters: LoadCounters = { open: 0, requests: 0, ok: 0, errors: 0, inFlight: 0 }
  /** Connections whose first round trip succeeded. */
  opened = 0
  /** The first few failures, in full. */
  readonly firstErrors: string[] = []

  constructor (opts: EchoLoadOptions) {
    this.opts = { intervalMs: 2000, timeoutMs: 30_000, batch: 50, rampTimeoutMs: 180_000, ...opts }
  }

  private fail (why: string): void {
    this.counters.errors++
    if (this.firstErrors.length < 5) this.firstErrors.push(why.slice(0, 300))
  }

  /** One request on `c`: resolves when the echo matched, rejects otherwise (and the connection is closed). */
  private async round (c: Conn): Promise<void> {
    const want = payload(c.id, c.n++)
    c.want = want
    c.got = []
    c.gotLen = 0
    this.counters.requests++
    this.counters.inFlight++
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => { c.settle?.(new Error(`no echo within ${this.opts.timeoutMs} ms`)) }, this.opts.timeoutMs)
        c.settle = (err) => { clearTimeout(t); c.settle = undefined; c.want = undefined; if (err != null) reject(err); else resolve() }
        c.socket.write(want)
      })
      this.counters.ok++
    } finally {
      this.counters.inFlight--
    }
  }

  private onData (c: Conn, chunk: Buffer): void {
    const want = c.want
    if (want == null || c.settle == null) { this.drop(c, `connection ${c.id}: ${chunk.length} bytes nobody asked for`); return }
    c.got.push(chunk)
    c.gotLen += chunk.length
    if (c.gotLen < want.length) return
    const got = Buffer.concat(c.got)
    if (got.length !== want.length || !got.equals(want)) c.settle(new Error(`connection ${c.id}: echo of ${want.length} bytes came back as ${got.length} different bytes`))
    else c.settle()
  }

  private drop (c: Conn, why: string): void {
    if (!this.conns.has(c)) return
    this.conns.delete(c)
    if (c.next != null) clearTimeout(c.next)
    c.socket.destroy()
    this.counters.open = this.conns.size
    // a request in flight fails (and is counted) through its round; a connection lost between two is counted here
    if (c.settle != null) c.settle(new Error(why))
    else if (!this.stopping) this.fail(why)
  }

  /** Ask again after the interval, until stopped; a failure closes the connection. */
  private schedule (c: Conn, delayMs: number): void {
    if (this.stopping) return
    c.next = setTimeout(() => {
      c.next = undefined
      if (this.stopping || !this.conns.has(c)) return
      this.round(c).then(() => { this.schedule(c, this.opts.intervalMs) }, (err: Error) => {
        this.fail(err.message)
        this.drop(c, err.message)
      })
    }, delayMs)
  }

  /** Open one connection and prove it with one round trip. */
  private async openOne (id: number): Promise<void> {
    const socket = connect({ host: '127.0.0.1', port: this.opts.port, noDelay: true })
    const c: Conn = { id, socket, n: 0, got: [], gotLen: 0 }
    socket.on('data', (b: Buffer) => { this.onData(c, b) })
    socket.on('error', (err) => { this.drop(c, `connection ${id}: ${err.message}`) })
    socket.on('close', () => { this.drop(c, `connection ${id}: closed by the far side`) })
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`connection ${id}: connect timeout`)) }, this.opts.timeoutMs)
      socket.once('connect', () => { clearTimeout(t); resolve() })
      socket.once('error', (err) => { clearTimeout(t); reject(err) })
    })
    this.conns.add(c)
    this.counters.open = this.conns.size
    socket.write('E')
    await this.round(c)
    this.opened++
  }

  /** Open every connection (in batches, bounded in time); each then asks every `intervalMs` until {@link stop}. */
  async start (onProgress: (opened: number) => void = () => {}): Promise<void> {
    const deadline = Date.now() + this.opts.rampTimeoutMs
    for (let i = 0; i < this.opts.connections && Date.now() < deadline && !this.stopping; i += this.opts.batch) {
      const ids = Array.from({ length: Math.min(this.opts.batch, this.opts.connections - i) }, (_, k) => i + k)
      await Promise.all(ids.map(async id => {
        try {
          await this.openOne(id)
        } catch (err) {
          this.fail((err as Error).message)
          for (const c of this.conns) if (c.id === id) this.drop(c, (err as Error).message)
        }
      }))
      onProgress(this.opened)
    }
    // spread the rounds over the interval, so that the load is even
    for (const c of this.conns) this.schedule(c, Math.floor(Math.random() * this.opts.intervalMs))
  }

  /** Stop asking, wait (bounded) for the answers in flight, then close every connection. */
  async stop (waitMs = 30_000): Promise<void> {
    this.stopping = true
    for (const c of this.conns) if (c.next != null) { clearTimeout(c.next); c.next = undefined }
    const deadline = Date.now() + waitMs
    while (this.counters.inFlight > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    const open = this.conns.size
    for (const c of [...this.conns]) { this.conns.delete(c); c.socket.destroy() }
    // still open when the load stopped: what the verdict compares with the ramp
    this.counters.open = open
  }
}

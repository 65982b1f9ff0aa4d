/**
 * One file over ~400 lines, on purpose: `beam benchmark` is one protocol
 * (BENCH_PROTOCOL) whose two ends must change together: the share's handler
 * (round trips, upload, download) and the connector's runner that drives it
 * path by path. Split, each half would be read, and changed, without the other.
 */
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import { accessProof } from '../../signaling/index.ts'
import { InvalidOptionError, PeerUnreachableError, ShareOverloadedError, TunnelProtocolError, TunnelRefusedError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { classifyAddress, webrtcViaRelay, withPeer, withoutPeer } from '../connect/dialer.ts'
import { transportOf } from '../connect/path.ts'
import { describeLimits, limitsOf } from '../connect/limits.ts'

/**
 * `/beam/bench/1.0.0`: throughput and round-trip measurements between a
 * connector and a share, answered only for peers the share authorizes (the
 * same access proof as a tunnel).
 *
 * Request, one length-prefixed message:
 * `version u8 | op u8 | proofLength u8 | reserved u8 | durationMs u32be | size u64be | proof`.
 * Response: `version u8 | status u8 | reason (UTF-8)`. Then, after OK:
 * - `discard` (upload): the connector sends bytes and closes its write side;
 *   the share answers the count it received (u64be) and closes.
 * - `source` (download): the share sends `size` bytes (0: no limit) for at
 *   most `durationMs`, then closes.
 * - `echo` (round trips): the share sends back what it receives until the
 *   connector closes.
 * The share bounds every stream to 60 s (`MAX_BENCH_DURATION`). It applies
 * a tunnel's limits: a benchmark stream waiting for its request takes a
 * handshake slot, an accepted one a tunnel slot (OVERLOADED when none is
 * free), and a refusal, a missing or an undecodable request count as failed
 * handshakes of the connection.
 */
export const BENCH_PROTOCOL = '/beam/bench/1.0.0'

export const BENCH_VERSION = 1
export const BenchOp = { DISCARD: 1, SOURCE: 2, ECHO: 3 } as const
export type BenchOp = typeof BenchOp[keyof typeof BenchOp]

export const BenchStatus = { OK: 0, UNAUTHORIZED: 1, BAD_REQUEST: 4, OVERLOADED: 6 } as const
export type BenchStatus = typeof BenchStatus[keyof typeof BenchStatus]

/** Longest a share keeps one benchmark stream open, in ms. */
export const MAX_BENCH_DURATION = 60_000
/** Benchmark streams a share accepts on one connection at once. */
export const MAX_BENCH_STREAMS = 8
/** Size of the chunks a sender writes. */
const CHUNK = 64 * 1024
const MAX_MESSAGE = 1024
const PING_SIZE = 32

export interface BenchRequest {
  op: BenchOp
  durationMs: number
  size: number
  proof?: Uint8Array
}

export function encodeBenchRequest (req: BenchRequest): Uint8Array {
  const proof = req.proof ?? new Uint8Array(0)
  const out = Buffer.alloc(16 + proof.length)
  out[0] = BENCH_VERSION
  out[1] = req.op
  out[2] = proof.length
  out.writeUInt32BE(Math.max(0, Math.min(req.durationMs, 0xffffffff)), 4)
  out.writeBigUInt64BE(BigInt(req.size), 8)
  out.set(proof, 16)
  return out
}

export function decodeBenchRequest (buf: Uint8Array): BenchRequest {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (b.length < 16 || b[0] !== BENCH_VERSION) throw new TunnelProtocolError('bad benchmark request')
  const op = b[1] ?? 0
  if (op !== BenchOp.DISCARD && op !== BenchOp.SOURCE && op !== BenchOp.ECHO) throw new TunnelProtocolError(`unknown benchmark op ${op}`)
  const proofLength = b[2] ?? 0
  if (b.length !== 16 + proofLength) throw new TunnelProtocolError('benchmark request has the wrong length')
  const req: BenchRequest = { op, durationMs: b.readUInt32BE(4), size: Number(b.readBigUInt64BE(8)) }
  if (proofLength > 0) req.proof = new Uint8Array(b.subarray(16))
  return req
}

function encodeBenchResponse (status: BenchStatus, reason: string): Uint8Array {
  const r = Buffer.from(reason.slice(0, 400), 'utf8')
  const out = new Uint8Array(2 + r.length)
  out[0] = BENCH_VERSION
  out[1] = status
  out.set(r, 2)
  return out
}

/** Send `data` on a stream, waiting for 'drain' under backpressure. */
async function send (stream: Stream, data: Uint8Array, signal: AbortSignal): Promise<void> {
  if (stream.send(data)) return
  await new Promise<void>((resolve, reject) => {
    const done = (): void => { stream.removeEventListener('drain', done); stream.removeEventListener('close', done); signal.removeEventListener('abort', done); if (signal.aborted) reject(signal.reason as Error); else resolve() }
    stream.addEventListener('drain', done)
    stream.addEventListener('close', done)
    signal.addEventListener('abort', done)
  })
}

/** Reset `stream` when `signal` aborts (a silent peer must not hold a read forever); returns the unhook. */
function abortOn (stream: Stream, signal: AbortSignal): () => void {
  const onAbort = (): void => { stream.abort(new Error('benchmark stream timed out or was cancelled')) }
  if (signal.aborted) onAbort()
  signal.addEventListener('abort', onAbort, { once: true })
  return () => { signal.removeEventListener('abort', onAbort) }
}

/** Call `onData` for every chunk until the remote closes its write side; resolves the byte count. */
async function drain (stream: Stream, signal: AbortSignal, onData: (chunk: Uint8Array) => void = () => {}): Promise<number> {
  let n = 0
  for await (const chunk of stream) {
    signal.throwIfAborted()
    if (chunk instanceof Uint8Array) { n += chunk.byteLength; onData(chunk) } else { for (const c of chunk) { n += c.byteLength; onData(c) } }
  }
  return n
}

/** What the share side needs to answer benchmark streams. */
export interface ServeBenchmarkOptions {
  /** The share's access check: a refusal reason, or undefined when allowed. */
  authorize: (proof: Uint8Array | undefined) => string | undefined
  /** Told about a refusal (the share's 'refused' event). */
  onRefused?: (reason: string) => void
  /** Told once the request has been read, or its read has failed (the share's handshake slot). */
  onRequestRead?: () => void
  /** Told about a refusal, a request that did not come in time or did not decode, after any answer was sent. */
  onHandshakeFailed?: (why: string) => void
  /** Take a tunnel slot after the access check: undefined when taken (the share gives it back when the stream ends), else the OVERLOADED reason. @default always taken */
  acquire?: () => string | undefined
  log: Logger
  /** Aborted when the share closes. */
  signal: AbortSignal
}

/** Share side of one `/beam/bench/1.0.0` stream. Never throws. */
export async function serveBenchmark (stream: Stream, options: ServeBenchmarkOptions): Promise<void> {
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(MAX_BENCH_DURATION + 5000)])
  const unhook = abortOn(stream, signal)
  const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
  let req: BenchRequest
  const timeout = AbortSignal.timeout(10_000)
  try {
    req = decodeBenchRequest((await lp.read({ signal: AbortSignal.any([signal, timeout]) })).subarray())
  } catch (err) {
    const message = (err as Error).message
    options.log.debug({ err: message }, 'bad or missing benchmark request; stream reset')
    stream.abort(err as Error)
    unhook()
    if (timeout.aborted || err instanceof TunnelProtocolError || ['InvalidDataLengthError', 'InvalidDataLengthLengthError'].includes((err as Error).name)) {
      options.onHandshakeFailed?.(timeout.aborted ? 'no benchmark request in time' : message)
    }
    return
  } finally {
    options.onRequestRead?.()
  }
  try {
    const refusal = options.authorize(req.proof)
    if (refusal != null) {
      options.log.warn({ reason: refusal }, 'refused benchmark')
      options.onRefused?.(refusal)
      await lp.write(encodeBenchResponse(BenchStatus.UNAUTHORIZED, refusal), { signal })
      await stream.close({ signal }).catch(() => {})
      options.onHandshakeFailed?.(refusal)
      return
    }
    const overloaded = options.acquire?.()
    if (overloaded != null) {
      options.log.warn({ reason: overloaded }, 'benchmark refused: the share is at its cap on open tunnels')
      await lp.write(encodeBenchResponse(BenchStatus.OVERLOADED, overloaded), { signal })
      await stream.close({ signal }).catch(() => {})
      return
    }
    await lp.write(encodeBenchResponse(BenchStatus.OK, ''), { signal })
    const raw = lp.unwrap()
    const duration = Math.min(req.durationMs > 0 ? req.durationMs : MAX_BENCH_DURATION, MAX_BENCH_DURATION)
    if (req.op === BenchOp.DISCARD) {
      const received = await drain(raw, signal)
      const count = Buffer.alloc(8)
      count.writeBigUInt64BE(BigInt(received))
      await send(raw, count, signal)
      await raw.close({ signal })
    } else if (req.op === BenchOp.SOURCE) {
      const chunk = new Uint8Array(randomBytes(CHUNK))
      const end = performance.now() + duration
      let left = req.size > 0 ? req.size : Number.MAX_SAFE_INTEGER
      while (left > 0 && performance.now() < end && raw.writeStatus === 'writable') {
        const n = Math.min(left, CHUNK)
        await send(raw, n === CHUNK ? chunk : chunk.subarray(0, n), signal)
        left -= n
      }
      await raw.close({ signal })
    } else {
      await drain(raw, signal, (c) => { raw.send(c) })
      await raw.close({ signal })
    }
  } catch (err) {
    options.log.debug({ err: (err as Error).message }, 'benchmark stream ended early')
    stream.abort(err as Error)
  } finally {
    unhook()
  }
}

/** The paths `beam benchmark` can force. */
export const BENCH_BACKENDS = ['tcp', 'quic', 'webrtc', 'relay'] as const
/** A path `beam benchmark` can force: direct TCP, direct QUIC, WebRTC, or a circuit relay. */
export type BenchBackend = typeof BENCH_BACKENDS[number]

/** One path's figures. */
export interface BenchResult {
  /** The path measured. */
  backend: BenchBackend
  /** Whether the path could be measured (else see `error`). */
  ok: boolean
  /** The address the connection went to. */
  remote?: string
  /** Median round trip of small echoes, in ms. */
  rttMs?: number
  /** Decimal MB/s (10^6 bytes per second). */
  uploadMBps?: number
  /** Decimal MB/s from the peer to this node. */
  downloadMBps?: number
  /** Bytes sent to the peer during the upload phase. */
  uploadBytes?: number
  /** Bytes received from the peer during the download phase. */
  downloadBytes?: number
  /** Why the path could not be measured. */
  error?: string
}

/** Progress of {@link BenchmarkOptions.onProgress}. */
export interface BenchProgress {
  /** The path being measured. */
  backend: BenchBackend
  /** What is being measured now. */
  phase: 'dial' | 'rtt' | 'upload' | 'download'
  /** Bytes moved so far in this phase. */
  bytes: number
  /** Time since the phase began, in ms. */
  elapsedMs: number
  /** Length of this phase, in ms (transfers). */
  durationMs?: number
}

/** Options of {@link BeamNode.benchmark}. */
export interface BenchmarkOptions {
  /** Paths to measure. @default every path the peer offers */
  backends?: BenchBackend[]
  /** Time per path, split between upload and download, in ms. @default 10000 */
  durationMs?: number
  /** Round trips measured per path. @default 20 */
  pings?: number
  /** How long one dial may take, in ms. @default 15000 */
  dialTimeout?: number
  /** Called about every 250 ms during a transfer, and at each phase. */
  onProgress?: (p: BenchProgress) => void
  /** Called with each path's result as soon as it is known. */
  onResult?: (r: BenchResult) => void
  /** Aborts the benchmark. @default none */
  signal?: AbortSignal
}

/** Addresses that force one benchmark path, ready to dial. Empty when the peer offers none. */
export function benchPathAddresses (backend: BenchBackend, addrs: Multiaddr[], peer: PeerId): Multiaddr[] {
  const direct = addrs.filter(a => classifyAddress(a) === 'direct')
  const relayed = addrs.filter(a => classifyAddress(a) === 'relayed' && transportOf(a) === 'relay')
  switch (backend) {
    case 'tcp': return direct.filter(a => transportOf(a) === 'tcp').map(withoutPeer)
    case 'quic': return direct.filter(a => transportOf(a) === 'quic').map(withoutPeer)
    case 'relay': return relayed.map(a => withPeer(a, peer))
    case 'webrtc': return relayed.map(a => webrtcViaRelay(a, peer)).filter((a): a is Multiaddr => a != null)
  }
}

/** @deprecated renamed {@link benchPathAddresses} (what it returns: the addresses of one benchmark path). */
export const addressesFor = benchPathAddresses

/**
 * Measure each path to a peer's share: dial only that path's addresses (a
 * new connection, `force`), then round trips, upload and download on that
 * connection. A refusal by the share rejects with TunnelRefusedError; a path
 * that cannot be reached is a failed result, not an error.
 */
export async function runBenchmark (libp2p: Libp2p, peer: PeerId, addrs: Multiaddr[], secret: Uint8Array | undefined, log: Logger, options: BenchmarkOptions = {}): Promise<BenchResult[]> {
  const durationMs = options.durationMs ?? 10_000
  if (!Number.isInteger(durationMs) || durationMs < 200 || durationMs > 2 * MAX_BENCH_DURATION) throw new InvalidOptionError('benchmark duration must be 0.2 s to 120 s')
  const offered = BENCH_BACKENDS.filter(b => benchPathAddresses(b, addrs, peer).length > 0)
  const backends = options.backends ?? offered
  const proof = secret != null ? accessProof(secret, libp2p.peerId.toMultihash().bytes, peer.toMultihash().bytes) : undefined
  const results: BenchResult[] = []
  for (const backend of backends) {
    options.signal?.throwIfAborted()
    const candidates = benchPathAddresses(backend, addrs, peer)
    if (candidates.length === 0) {
      results.push({ backend, ok: false, error: `the peer offers no ${backend} path` })
      options.onResult?.(results[results.length - 1] as BenchResult)
      continue
    }
    // a fresh connection on this path only: drop what is open to the peer
    await Promise.all(libp2p.getConnections(peer).map(async c => { await c.close().catch(() => { c.abort(new Error('benchmark: next path')) }) }))
    options.onProgress?.({ backend, phase: 'dial', bytes: 0, elapsedMs: 0 })
    let conn: Connection
    try {
      conn = await dialFirst(libp2p, peer, backend, candidates, AbortSignal.any([AbortSignal.timeout(options.dialTimeout ?? 15_000), ...(options.signal != null ? [options.signal] : [])]))
    } catch (err) {
      options.signal?.throwIfAborted()
      results.push({ backend, ok: false, error: (err as Error).message })
      options.onResult?.(results[results.length - 1] as BenchResult)
      continue
    }
    const res: BenchResult = { backend, ok: false, remote: conn.remoteAddr.toString() }
    const limits = limitsOf(conn)
    if (limits != null) {
      // a relay that limits its connections would cut the measurement within KiB; the share refuses it there
      res.error = `the relay limits its connections (${describeLimits(limits)}): it carries signalling, not a benchmark`
      await conn.close().catch(() => {})
      results.push(res)
      options.onResult?.(res)
      continue
    }
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(durationMs + 30_000), ...(options.signal != null ? [options.signal] : [])])
      const ctx = { conn, proof, signal, backend, onProgress: options.onProgress }
      res.rttMs = await measureRtt(ctx, options.pings ?? 20)
      const up = await measureUpload(ctx, Math.round(durationMs / 2))
      res.uploadBytes = up.bytes
      res.uploadMBps = Math.round(up.bytes / 1e6 / up.seconds * 10) / 10
      const down = await measureDownload(ctx, Math.round(durationMs / 2))
      res.downloadBytes = down.bytes
      res.downloadMBps = Math.round(down.bytes / 1e6 / down.seconds * 10) / 10
      res.ok = true
    } catch (err) {
      if (err instanceof TunnelRefusedError || err instanceof TunnelProtocolError || err instanceof ShareOverloadedError) throw err
      options.signal?.throwIfAborted()
      res.error = (err as Error).message
      log.debug({ backend, err: res.error }, 'benchmark of a path failed')
    } finally {
      await conn.close().catch(() => {})
    }
    results.push(res)
    options.onResult?.(res)
  }
  if (results.length > 0 && results.every(r => !r.ok)) {
    throw new PeerUnreachableError(peer.toString(), results.map(r => `${r.backend}: ${r.error ?? 'failed'}`).join('; '))
  }
  return results
}

async function dialFirst (libp2p: Libp2p, peer: PeerId, backend: BenchBackend, candidates: Multiaddr[], signal: AbortSignal): Promise<Connection> {
  const errors: string[] = []
  return await Promise.any(candidates.map(async ma => {
    try {
      const c = await libp2p.dial(ma, { signal, force: true })
      if (!c.remotePeer.equals(peer)) {
        c.abort(new Error('wrong peer'))
        throw new Error(`${c.remotePeer.toString()} answered, not the peer`)
      }
      return c
    } catch (err) {
      errors.push(`${ma.toString()}: ${(err as Error).message}`)
      throw err
    }
  })).catch(() => { throw new Error(`no ${backend} address answered (${errors.slice(0, 2).join('; ')})`) })
}

interface MeasureContext {
  conn: Connection
  proof: Uint8Array | undefined
  signal: AbortSignal
  backend: BenchBackend
  onProgress: ((p: BenchProgress) => void) | undefined
}

/** Open a benchmark stream on this exact connection and pass the access check. */
async function openBench (ctx: MeasureContext, op: BenchOp, durationMs: number): Promise<Stream> {
  let stream: Stream
  try {
    stream = await ctx.conn.newStream(BENCH_PROTOCOL, { signal: ctx.signal, runOnLimitedConnection: false, maxOutboundStreams: MAX_BENCH_STREAMS })
    const unhook = abortOn(stream, ctx.signal)
    stream.addEventListener('close', unhook, { once: true })
  } catch (err) {
    if ((err as Error).name === 'UnsupportedProtocolError') throw new TunnelProtocolError('the peer does not answer beam benchmarks (not a beam share, or an older beam)')
    throw err
  }
  const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE })
  const req: BenchRequest = { op, durationMs, size: 0 }
  if (ctx.proof != null) req.proof = ctx.proof
  await lp.write(encodeBenchRequest(req), { signal: ctx.signal })
  const res = (await lp.read({ signal: ctx.signal })).subarray()
  if (res[0] !== BENCH_VERSION) throw new TunnelProtocolError('bad benchmark response')
  const reason = Buffer.from(res.subarray(2)).toString('utf8')
  if (res[1] === BenchStatus.UNAUTHORIZED) throw new TunnelRefusedError(reason)
  if (res[1] === BenchStatus.OVERLOADED) throw new ShareOverloadedError(reason)
  if (res[1] !== BenchStatus.OK) throw new TunnelProtocolError(`the share answered ${res[1] ?? '?'}: ${reason}`)
  return lp.unwrap()
}

function progressTimer (ctx: MeasureContext, phase: BenchProgress['phase'], durationMs: number, bytes: () => number): () => void {
  const start = performance.now()
  const tick = (): void => { ctx.onProgress?.({ backend: ctx.backend, phase, bytes: bytes(), elapsedMs: performance.now() - start, durationMs }) }
  tick()
  const t = setInterval(tick, 250)
  return () => { clearInterval(t) }
}

async function measureRtt (ctx: MeasureContext, pings: number): Promise<number> {
  ctx.onProgress?.({ backend: ctx.backend, phase: 'rtt', bytes: 0, elapsedMs: 0 })
  const stream = await openBench(ctx, BenchOp.ECHO, MAX_BENCH_DURATION)
  const samples: number[] = []
  try {
    const it = stream[Symbol.asyncIterator]()
    const data = new Uint8Array(randomBytes(PING_SIZE))
    for (let i = 0; i < pings; i++) {
      const start = performance.now()
      stream.send(data)
      let got = 0
      while (got < PING_SIZE) {
        const { value, done } = await it.next()
        if (done === true) throw new Error('the share closed the echo stream')
        got += value.byteLength
      }
      samples.push(performance.now() - start)
      ctx.signal.throwIfAborted()
    }
    await stream.close({ signal: ctx.signal }).catch(() => {})
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
  samples.sort((a, b) => a - b)
  return Math.round((samples[Math.floor(samples.length / 2)] ?? NaN) * 100) / 100
}

async function measureUpload (ctx: MeasureContext, durationMs: number): Promise<{ bytes: number, seconds: number }> {
  const stream = await openBench(ctx, BenchOp.DISCARD, durationMs)
  let sent = 0
  const stop = progressTimer(ctx, 'upload', durationMs, () => sent)
  try {
    const chunk = new Uint8Array(randomBytes(CHUNK))
    const start = performance.now()
    const end = start + durationMs
    while (performance.now() < end) {
      await send(stream, chunk, ctx.signal)
      sent += CHUNK
    }
    await stream.close({ signal: ctx.signal })
    let answer = new Uint8Array(0)
    for await (const c of stream) answer = Buffer.concat([answer, c instanceof Uint8Array ? c : c.subarray()])
    const seconds = (performance.now() - start) / 1000
    if (answer.byteLength !== 8) throw new TunnelProtocolError('the share sent no byte count')
    return { bytes: Number(Buffer.from(answer).readBigUInt64BE(0)), seconds }
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    stop()
  }
}

async function measureDownload (ctx: MeasureContext, durationMs: number): Promise<{ bytes: number, seconds: number }> {
  const stream = await openBench(ctx, BenchOp.SOURCE, durationMs)
  let got = 0
  const stop = progressTimer(ctx, 'download', durationMs, () => got)
  try {
    const start = performance.now()
    await drain(stream, ctx.signal, (c) => { got += c.byteLength })
    const seconds = (performance.now() - start) / 1000
    await stream.close({ signal: ctx.signal }).catch(() => {})
    return { bytes: got, seconds }
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    stop()
  }
}

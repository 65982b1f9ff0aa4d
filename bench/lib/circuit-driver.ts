/**
 * One driver process of the relayed-circuits scenario (see circuits.ts):
 * starts `count` light connector nodes in this process (TCP + circuit relay
 * only, no DHT, ephemeral keys), each dialling the share through the relay's
 * circuit address and opening one tunnel, then proves each tunnel carries
 * bytes with one HTTP request on a keep-alive socket that stays open.
 *
 *   node circuit-driver.ts <connect-string> <count> <batch> <connect-timeout-ms> [keep-alive-ms] [stats-ms]
 *
 * Prints JSON lines: `progress` after each batch, `ready` when the ramp is
 * done, and with a stats-ms above 0 (the soak, bench/soak.ts) a `stats` line
 * that often: keep-alive requests sent, answered, failed and in flight. On SIGUSR2 every open socket asks again (`recheck`). On SIGTERM the
 * tunnels and nodes are closed within a bounded time and the process exits.
 */
import { connect as tcpConnect } from 'node:net'
import type { Socket } from 'node:net'
import { createBeam } from '../../src/index.ts'
import type { BeamNode, ConnectTunnel } from '../../src/index.ts'

const [target = '', countArg = '0', batchArg = '25', timeoutArg = '45000', keepAliveArg = '20000', statsArg = '0'] = process.argv.slice(2)
const count = Number(countArg)
const batch = Math.max(1, Number(batchArg))
const timeoutMs = Number(timeoutArg)

interface Circuit { node: BeamNode, tunnel?: ConnectTunnel, socket?: Socket, pending?: Promise<void> }
const circuits: Circuit[] = []
const errors: Record<string, number> = {}
const firstErrors: string[] = []
let relayedConnections = 0
/** Tunnels that answered their first request and later failed one (keep-alive or recheck). */
let dropped = 0
const dropErrors: string[] = []
/**
 * The service closes keep-alive sockets idle for 60 s: each open socket asks
 * again every KEEPALIVE_MS, which also proves the tunnel still carries bytes.
 * @default 20000
 */
const KEEPALIVE_MS = Math.max(1000, Number(keepAliveArg))
/** How often a `stats` line is printed, in ms; 0: never. @default 0 */
const STATS_MS = Number(statsArg)
/** Requests after the first one of each tunnel (keep-alive and recheck): sent, answered, failed. */
let requests = 0
let answered = 0

function emit (event: string, fields: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
}

function fail (why: string): void {
  const key = why.slice(0, 160)
  errors[key] = (errors[key] ?? 0) + 1
  if (firstErrors.length < 5) firstErrors.push(why.slice(0, 300))
}

/** One `GET /` on a socket (keep-alive): resolves when the 2-byte body "ok" arrived. */
async function request (socket: Socket, ms: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let got = ''
    const t = setTimeout(() => { done(new Error(`no HTTP answer within ${ms} ms`)) }, ms)
    const onData = (b: Buffer): void => {
      got += b.toString('latin1')
      if (got.includes('\r\n\r\n') && got.endsWith('ok')) done()
    }
    const onEnd = (): void => { done(new Error('tunnel socket closed before the answer')) }
    const done = (err?: Error): void => {
      clearTimeout(t)
      socket.off('data', onData); socket.off('close', onEnd); socket.off('error', onEnd)
      if (err != null) reject(err); else resolve()
    }
    socket.on('data', onData); socket.once('close', onEnd); socket.once('error', onEnd)
    socket.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n')
  })
}

/** One request on a circuit's socket (one at a time per socket); a failure drops the circuit. */
async function ask (c: Circuit): Promise<void> {
  const socket = c.socket
  if (socket == null || socket.destroyed) throw new Error('socket closed')
  if (c.pending == null) requests++
  c.pending ??= request(socket, timeoutMs).then(() => { answered++ }, (err: Error) => {
    dropped++
    if (dropErrors.length < 5) dropErrors.push(err.message.slice(0, 200))
    socket.destroy()
    throw err
  }).finally(() => { c.pending = undefined })
  await c.pending
}

async function openSocket (port: number, ms: number): Promise<Socket> {
  return await new Promise<Socket>((resolve, reject) => {
    const s = tcpConnect({ host: '127.0.0.1', port })
    const t = setTimeout(() => { s.destroy(); reject(new Error('local tunnel port: connect timeout')) }, ms)
    s.once('connect', () => { clearTimeout(t); s.setNoDelay(true); resolve(s) })
    s.once('error', (e) => { clearTimeout(t); reject(e) })
  })
}

async function one (): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  let c: Circuit | undefined
  try {
    const node = await createBeam({ dht: false, transports: { tcp: true, relay: true, quic: false, webrtc: false, websockets: false } })
    c = { node }
    circuits.push(c)
    const tunnel = await node.connect(target, { upgrade: false, signal, dialTimeout: timeoutMs, handshakeTimeout: timeoutMs })
    c.tunnel = tunnel
    const conns = node.libp2p.getConnections(tunnel.peerId)
    if (!conns.some(x => x.remoteAddr.toString().includes('/p2p-circuit'))) throw new Error(`not relayed: ${conns.map(x => x.remoteAddr.toString()).join(' ') || 'no connection'}`)
    relayedConnections++
    const socket = await openSocket(tunnel.port, timeoutMs)
    socket.on('error', () => {})
    c.socket = socket
    await request(socket, timeoutMs)
  } catch (err) {
    fail(`${(err as Error).name}: ${(err as Error).message}`)
    if (c != null) { c.socket?.destroy(); c.socket = undefined }
  }
}

function connected (): number {
  return circuits.filter(c => c.tunnel != null && c.node.libp2p.getConnections(c.tunnel.peerId).length > 0).length
}

function up (): number { return circuits.filter(c => c.socket != null && !c.socket.destroyed).length }

async function main (): Promise<void> {
  const t0 = performance.now()
  const keepAlive = setInterval(() => {
    for (const c of circuits) if (c.socket != null && !c.socket.destroyed) ask(c).catch(() => {})
  }, KEEPALIVE_MS)
  keepAlive.unref()
  if (STATS_MS > 0) {
    setInterval(() => {
      emit('stats', { open: up(), requests, answered, failed: dropped, inFlight: circuits.filter(c => c.pending != null).length, connected: connected(), dropErrors })
    }, STATS_MS).unref()
  }
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i)
    await Promise.all(Array.from({ length: n }, async () => { await one() }))
    emit('progress', { attempted: i + n, up: up(), ms: Math.round(performance.now() - t0) })
  }
  emit('ready', { attempted: count, up: up(), relayed: relayedConnections, failed: count - up(), connected: connected(), dropped, dropErrors, errors, firstErrors, ms: Math.round(performance.now() - t0), rssMiB: Math.round(process.memoryUsage().rss / 1048576) })
}

process.on('SIGUSR2', () => {
  const open = circuits.filter(c => c.socket != null && !c.socket.destroyed)
  void Promise.allSettled(open.map(async c => { await ask(c) })).then(rs => {
    const bad = rs.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    emit('recheck', { open: open.length, ok: rs.length - bad.length, failed: bad.length, connected: connected(), dropped, firstErrors: bad.slice(0, 3).map(r => String((r.reason as Error).message)) })
  })
})

process.on('SIGTERM', () => {
  const hard = setTimeout(() => { process.exit(0) }, 10_000)
  hard.unref()
  for (const c of circuits) c.socket?.destroy()
  void Promise.allSettled(circuits.map(async c => { await c.tunnel?.close(); await c.node.stop() })).then(() => { process.exit(0) })
})

main().catch((err: Error) => { emit('error', { message: err.message }); process.exit(1) })

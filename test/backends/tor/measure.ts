/**
 * Figures for the Tor section of docs/backends.md: a private Tor network, then three rounds
 * of share → connect with library nodes: time to a published onion, to a
 * connected tunnel, first echo, echo RTT (40 one-byte round trips) and
 * upload throughput (16 MiB). Not a test (no assertions); run it with
 * `node_modules/.bin/node test/backends/tor/measure.ts`.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { startTorNetwork } from './tor-network.ts'
import { createBeam, newAccessSecret, torBackend } from '../../../src/index.ts'

const t0 = Date.now()
const tn = await startTorNetwork({ clients: ['none', 'none'] })
try {
console.log('bootstrap_ms', tn.bootstrapMs)
const [a, b] = tn.clients
if (a == null || b == null) throw new Error('two clients expected')
// echo + sink service
const echo = net.createServer(s => { s.on('error', () => {}); s.pipe(s) })
await new Promise<void>(r => echo.listen(0, '127.0.0.1', r))
const sink = net.createServer(s => { s.on('error', () => {}); let n = 0; s.on('data', d => { n += d.length }); s.on('end', () => { s.end(String(n)) }) })
await new Promise<void>(r => sink.listen(0, '127.0.0.1', r))
const ep = (echo.address() as net.AddressInfo).port
const sp = (sink.address() as net.AddressInfo).port
for (let run = 0; run < 3; run++) {
  const s0 = Date.now()
  const sharer = await createBeam({ backends: [torBackend({ controlPort: a.controlPort })], listenOnBackends: true })
  const secret = newAccessSecret()
  await sharer.share({ services: [{ port: ep }, { port: sp }], access: { mode: 'secret', secret } })
  const shareMs = Date.now() - s0
  const conn = await createBeam({ backends: [torBackend({ socksPort: b.socksPort })] })
  const c0 = Date.now()
  const tunnel = await conn.connect(sharer.connectString(secret), { dialTimeout: 60000, signal: AbortSignal.timeout(60000) })
  const connectMs = Date.now() - c0
  // first byte + RTT on echo
  const rtts: number[] = []
  const sock = net.connect(tunnel.port, '127.0.0.1'); sock.setNoDelay(true)
  await new Promise(r => sock.once('connect', r))
  for (let i = 0; i < 41; i++) {
    const t = performance.now()
    sock.write('x')
    await new Promise(r => sock.once('data', r))
    rtts.push(performance.now() - t)
  }
  sock.destroy()
  const first = rtts.shift() ?? 0
  rtts.sort((x, y) => x - y)
  // throughput: 16 MiB up
  const tunnel2 = await conn.connect(sharer.connectString(secret), { remotePort: sp, dialTimeout: 60000, signal: AbortSignal.timeout(60000) })
  const up = randomBytes(16 * 1024 * 1024)
  const u0 = performance.now()
  const got = await new Promise<string>((resolve, reject) => {
    const s = net.connect({ port: tunnel2.port, host: '127.0.0.1', allowHalfOpen: true })
    let txt = ''
    s.on('connect', () => { s.end(up) }); s.on('data', d => { txt += d }); s.on('end', () => resolve(txt)); s.on('error', reject)
  })
  const upS = (performance.now() - u0) / 1000
  console.log(JSON.stringify({ run, shareReadyMs: shareMs, connectMs, firstEchoMs: Math.round(first), rttMedianMs: +(rtts[Math.floor(rtts.length / 2)] ?? 0).toFixed(1), rttP90Ms: +(rtts[Math.floor(rtts.length * 0.9)] ?? 0).toFixed(1), uploadMBps: +(Number(got) / 1e6 / upS).toFixed(2), path: tunnel.path }))
  await conn.stop(); await sharer.stop()
}
echo.close(); sink.close()
} finally {
  await tn.stop()
}
console.log('total_ms', Date.now() - t0)

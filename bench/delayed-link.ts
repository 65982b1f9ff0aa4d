/**
 * Round trips per request through a beam tunnel, on a link with real latency.
 *
 * On loopback a round trip costs ~1 ms of CPU work, so saving one is lost in
 * the noise of a shared machine. Here the connector reaches the share through
 * a delay proxy on 127.0.0.1 that holds every chunk `--delay` ms in each
 * direction (TCP_NODELAY on both of its sockets), so the latency of a request
 * counts the round trips it needs. Prints the p50 of HTTP requests through the
 * tunnel, each on a new connection and on one keep-alive connection, in ms and
 * in link round trips. Loopback only; library API, in one process.
 *
 *   node bench/delayed-link.ts [--delay 5] [--requests 40]
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam, encodeConnectString } from '../src/index.ts'
import { startDelayProxy } from './lib/delay-proxy.ts'
import type { DelayProxy } from './lib/delay-proxy.ts'
import { median } from './lib/stats.ts'

const { values } = parseArgs({ options: { delay: { type: 'string' }, requests: { type: 'string' } } })
const DELAY = Number(values.delay ?? 5)
const REQUESTS = Number(values.requests ?? 40)
if (!(DELAY >= 0 && DELAY <= 100) || !(REQUESTS >= 1 && REQUESTS <= 1000)) {
  process.stderr.write('delayed-link: --delay 0-100 (ms), --requests 1-1000\n')
  process.exit(2)
}

async function listening (server: http.Server): Promise<number> {
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  return (server.address() as AddressInfo).port
}

async function get (port: number, agent: http.Agent | false): Promise<number> {
  const start = performance.now()
  await new Promise<void>((resolve, reject) => {
    const headers = agent === false ? { connection: 'close' } : {}
    http.get({ host: '127.0.0.1', port, agent, headers }, res => { res.resume(); res.on('end', resolve) })
      .on('error', reject)
      .setTimeout(10_000, () => { reject(new Error('request timed out')) })
  })
  return performance.now() - start
}

const service = http.createServer((_req, res) => { res.end('ok') })
const servicePort = await listening(service)
const sharer = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], transports: { webrtc: false, quic: false }, dht: false })
const connector = await createBeam({ transports: { webrtc: false, quic: false }, dht: false })
let proxy: DelayProxy | undefined
try {
  await sharer.share({ services: [{ port: servicePort }], access: { mode: 'public' } })
  const tcp = sharer.getMultiaddrs().map(a => a.toString().match(/^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)/)).find(m => m != null)
  if (tcp == null) throw new Error('the share listens on no loopback TCP address')
  proxy = await startDelayProxy(Number(tcp[1]), DELAY)
  const cs = encodeConnectString({ peerId: sharer.peerId, multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${proxy.port}`)] })
  const tunnel = await connector.connect(cs, { signal: AbortSignal.timeout(30_000) })
  const fresh: number[] = []
  for (let i = 0; i < REQUESTS; i++) fresh.push(await get(tunnel.port, false))
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  await get(tunnel.port, agent)
  const kept: number[] = []
  for (let i = 0; i < REQUESTS; i++) kept.push(await get(tunnel.port, agent))
  agent.destroy()
  const rtt = 2 * DELAY
  const show = (ms: number): string => `${ms.toFixed(1)} ms${rtt > 0 ? ` (${(ms / rtt).toFixed(1)} round trips)` : ''}`
  console.log(`link round trip ${rtt} ms, ${REQUESTS} requests each`)
  console.log(`new connection per request: p50 ${show(median(fresh))}`)
  console.log(`keep-alive connection:      p50 ${show(median(kept))}`)
  await tunnel.close()
} finally {
  await connector.stop()
  await sharer.stop()
  await proxy?.close()
  service.close()
}

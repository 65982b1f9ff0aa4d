/**
 * Measures DHT lookup time for docs/discovery.md (not a test: timings are
 * never asserted). Loopback only: 20 DHT server nodes in 4 processes
 * (test/helpers/dht-swarm.ts), one share announcing itself from node 1, then
 * N lookups, each from a fresh client node bootstrapped from node 20.
 *
 *   node scripts/measure-lookups.ts [lookups=50]
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam } from 'beam'
import { DHT_SWARM } from '../test/helpers/dht-swarm.ts'

const N = Math.min(Math.max(Number(process.argv[2] ?? 50) || 50, 1), 500)
const children: ChildProcess[] = []

async function swarm (count: number, bootstrap: string[]): Promise<string[]> {
  const child = spawn(process.execPath, [DHT_SWARM, String(count), ...bootstrap], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  const addrs: string[] = []
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error('swarm did not start within 60 s')) }, 60_000)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const ev = JSON.parse(line) as { event: string, multiaddr?: string }
      if (ev.event === 'node' && ev.multiaddr != null) addrs.push(ev.multiaddr)
      if (ev.event === 'ready') { clearTimeout(t); resolve() }
    })
  })
  return addrs
}

function quantile (sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i] ?? NaN
}

try {
  const first = await swarm(5, [])
  const rest = await Promise.all([1, 2, 3].map(async () => await swarm(5, [first[0] ?? ''])))
  const nodes = [...first, ...rest.flat()]
  await new Promise(resolve => setTimeout(resolve, 3000))
  const share = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [multiaddr(nodes[0] ?? '')], transports: { webrtc: false } })
  const published = new Promise<number>(resolve => share.once('published', e => { resolve(e.ms) }))
  share.startPublishing()
  const publishMs = await published
  const times: number[] = []
  let failures = 0
  for (let i = 0; i < N; i++) {
    const client = await createBeam({ bootstrap: [multiaddr(nodes[19] ?? '')], transports: { webrtc: false }, lookupTimeout: 20_000 })
    try {
      // wait until the client is connected to its bootstrap node
      await client.libp2p.dial(multiaddr(nodes[19] ?? ''), { signal: AbortSignal.timeout(10_000) })
      const t0 = performance.now()
      const found = await client.lookup(share.peerId)
      if (found.multiaddrs.length === 0) throw new Error('empty')
      times.push(performance.now() - t0)
    } catch (err) {
      failures++
      if (failures <= 3) process.stderr.write(`lookup ${i} failed: ${(err as Error).message}\n`)
    } finally {
      await client.stop()
    }
  }
  await share.stop()
  const sorted = [...times].sort((a, b) => a - b)
  const result = {
    lookups: N,
    failures,
    publishMs,
    medianMs: Math.round(quantile(sorted, 0.5)),
    p95Ms: Math.round(quantile(sorted, 0.95)),
    minMs: Math.round(sorted[0] ?? NaN),
    maxMs: Math.round(sorted.at(-1) ?? NaN),
    node: process.version,
    date: new Date().toISOString()
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  for (const c of children) c.kill('SIGTERM')
}

import { describe, it, expect, afterEach } from 'vitest'
import { BeamProcess, OFFLINE, tempHome } from '../helpers/beam.ts'
import { startHttpService, httpGet, expectedHash } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

// beam relay on loopback: a share reachable only through the relay, the
// relay's limits, its metrics. (Real NATs are in test/lab.)

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function relay (args: string[] = []): Promise<{ proc: BeamProcess, addr: string, metrics: string | null }> {
  const home = await tempHome()
  const proc = new BeamProcess(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--json', ...args], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  const ready = await proc.waitFor('ready', 30_000)
  return { proc, addr: (ready.multiaddrs as string[])[0] ?? '', metrics: ready.metrics as string | null }
}

async function relayedShare (relayAddr: string, servicePort: number): Promise<{ proc: BeamProcess, connect: string }> {
  const home = await tempHome()
  const proc = new BeamProcess(['share', String(servicePort), '--no-listen', ...OFFLINE, '--bootstrap', relayAddr, '--json'], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  const ready = await proc.waitFor('ready', 30_000)
  return { proc, connect: String(ready.connect) }
}

async function connect (cs: string, relayAddr: string, extra: string[] = []): Promise<{ proc: BeamProcess, port: number }> {
  const home = await tempHome()
  const proc = new BeamProcess(['connect', cs, ...OFFLINE, '--bootstrap', relayAddr, '--json', ...extra], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  const ev = await proc.waitFor('listening', 40_000)
  return { proc, port: Number(ev.port) }
}

async function service (): Promise<TestHttp> {
  const http = await startHttpService()
  cleanups.push(async () => { await http.close() })
  return http
}

describe('beam relay', () => {
  it('carries a share that has no listener of its own; more than 128 KiB, exact bytes; path says relayed', async () => {
    const http = await service()
    const r = await relay()
    const s = await relayedShare(r.addr, http.port)
    expect(s.connect).toMatch(/^beam/)
    const c = await connect(s.connect, r.addr, ['--no-webrtc'])
    const path = await c.proc.waitFor('path', 15_000)
    expect(path).toMatchObject({ direct: false, transport: 'relay' })
    expect(String(path.remote)).toContain('/p2p-circuit')
    const got = await httpGet(c.port, '/download?mib=8&seed=21')
    expect(got.sha256).toBe(expectedHash(21, 8))
  })

  it('upgrades a relayed tunnel to a direct WebRTC path once it answers pings', async () => {
    const http = await service()
    const r = await relay()
    const s = await relayedShare(r.addr, http.port)
    // loopback ICE uses a pinned host candidate (BEAM_WEBRTC_BIND, set by the test helper)
    const c = await connect(s.connect, r.addr)
    const path = await c.proc.waitFor('path', 20_000, e => e.transport === 'webrtc')
    expect(path).toMatchObject({ direct: true, transport: 'webrtc' })
    const got = await httpGet(c.port, '/download?mib=4&seed=22')
    expect(got.sha256).toBe(expectedHash(22, 4))
  })

  it('applies a data limit when one is set: a relayed connection is cut past it', async () => {
    const http = await service()
    const r = await relay(['--max-bytes', '256KiB'])
    const s = await relayedShare(r.addr, http.port)
    const c = await connect(s.connect, r.addr, ['--no-webrtc'])
    await c.proc.waitFor('path', 15_000)
    const small = await httpGet(c.port, '/download?mib=0&seed=1')
    expect(small.status).toBe(200)
    const big = await httpGet(c.port, '/download?mib=4&seed=23').catch((err: Error) => ({ sha256: '', bytes: -1, error: err.message }))
    expect(big.bytes).toBeLessThan(4 * 1024 * 1024)
  })

  it('applies a duration limit when one is set', async () => {
    const http = await service()
    const r = await relay(['--max-duration', '2s'])
    const s = await relayedShare(r.addr, http.port)
    const c = await connect(s.connect, r.addr, ['--no-webrtc'])
    await c.proc.waitFor('path', 15_000)
    // the relayed connection is cut after 2 s: the connector reports it
    await c.proc.waitFor('disconnected', 15_000)
  })

  it('reports reservations and circuits as Prometheus metrics', async () => {
    const http = await service()
    const r = await relay(['--metrics', '127.0.0.1:0'])
    expect(r.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    await relayedShare(r.addr, http.port)
    const text = await (await fetch(r.metrics ?? '')).text()
    expect(text).toMatch(/^beam_relay_reservations 1$/m)
    expect(text).toMatch(/^beam_relay_circuits \d+$/m)
  })
})

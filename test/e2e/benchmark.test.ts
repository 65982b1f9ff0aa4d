import { describe, it, expect, afterEach } from 'vitest'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { BeamProcess, OFFLINE, tempHome } from '../helpers/beam.ts'
import type { BeamEvent } from '../helpers/beam.ts'

// `beam benchmark` against a running `beam share` on loopback: every path
// forced in turn (the bytes of the relayed path cross the relay, those of
// the WebRTC path do not), and a refused peer gets no benchmark at all.

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function freePort (): Promise<number> {
  return await new Promise(resolve => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => { resolve(p) }) })
  })
}

async function spawn (args: string[], home?: string): Promise<BeamProcess> {
  const h = home ?? (await tempHome()).dir
  const proc = new BeamProcess(args, { BEAM_HOME: h, BEAM_LOG_LEVEL: 'info' })
  cleanups.push(async () => { await proc.stop() })
  return proc
}

async function relayedBytes (metrics: string): Promise<number> {
  const text = await (await fetch(metrics)).text()
  const m = /^beam_relay_bytes_relayed_total (\d+)/m.exec(text)
  return Number(m?.[1] ?? NaN)
}

/** Run `beam benchmark … --json` to its end; returns its exit code and events. */
async function benchmark (target: string, args: string[], home?: string): Promise<{ code: number | null, events: BeamEvent[], stderr: string }> {
  const proc = await spawn(['benchmark', target, ...OFFLINE, '--json', ...args], home)
  const t = setTimeout(() => { proc.child.kill('SIGKILL') }, 150_000)
  const r = await proc.exited
  clearTimeout(t)
  return { code: r.code, events: proc.events, stderr: proc.stderr }
}

describe('beam benchmark', () => {
  it('measures each path it is told to, on that path only', async () => {
    const stunPort = await freePort()
    const relay = await spawn(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', String(stunPort), '--metrics', '127.0.0.1:0', '--ephemeral', '--json'])
    const rr = await relay.waitFor('ready', 30_000)
    const relayAddr = (rr.multiaddrs as string[])[0] ?? ''
    const metrics = String(rr.metrics)
    const net = ['--bootstrap', relayAddr, '--ice-server', `stun:127.0.0.1:${stunPort}`]
    const share = await spawn(['share', '9', '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--ephemeral', ...OFFLINE, ...net, '--json'])
    const ready = await share.waitFor('ready', 30_000)
    expect((ready.multiaddrs as string[]).some(m => m.includes('/p2p-circuit'))).toBe(true)
    const cs = String(ready.connect)

    const before = await relayedBytes(metrics)
    // WebRTC is measured in the NAT lab (test/lab/benchmark.test.ts): on loopback its dial through
    // the relay failed in 2 of 3 full CI runs here (an internal timeout, not the --timeout given)
    const direct = await benchmark(cs, ['--backends', 'tcp,quic', '--duration', '1s', '--timeout', '45000', '--ephemeral', ...net])
    expect(direct.code, direct.stderr.slice(-2000)).toBe(0)
    const results = direct.events.filter(e => e.event === 'benchmark-result')
    expect(results.map(r => r.backend)).toEqual(['tcp', 'quic'])
    for (const r of results) {
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true })
      expect(r.uploadBytes as number).toBeGreaterThan(0)
      expect(r.downloadBytes as number).toBeGreaterThan(0)
      expect(r.rttMs as number).toBeGreaterThan(0)
    }
    const remote = (b: string): string => String(results.find(r => r.backend === b)?.remote)
    expect(remote('tcp')).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    expect(remote('quic')).toMatch(/\/udp\/\d+\/quic-v1\//)
    // the direct bytes did not cross the relay
    const tcp = results.find(r => r.backend === 'tcp') as BeamEvent
    const afterDirect = await relayedBytes(metrics)
    expect(afterDirect - before).toBeLessThan(((tcp.uploadBytes as number) + (tcp.downloadBytes as number)) / 4)
    const summary = direct.events.find(e => e.event === 'benchmark')
    expect(summary).toMatchObject({ peerId: ready.peerId, durationMs: 1000 })

    const viaRelay = await benchmark(cs, ['--backends', 'relay', '--duration', '1s', '--ephemeral', ...net])
    expect(viaRelay.code, viaRelay.stderr.slice(-2000)).toBe(0)
    const rel = viaRelay.events.find(e => e.event === 'benchmark-result') as BeamEvent
    expect(rel).toMatchObject({ backend: 'relay', ok: true })
    expect(String(rel.remote)).toContain('/p2p-circuit')
    expect(String(rel.remote)).not.toContain('/webrtc')
    // every byte of the relayed path crossed the relay
    expect(await relayedBytes(metrics) - afterDirect).toBeGreaterThanOrEqual((rel.uploadBytes as number) + (rel.downloadBytes as number))
  }, 200_000)

  it('is refused for a peer the share would not open a tunnel for', async () => {
    // an allow-list that does not hold the benchmarking peer
    const share = await spawn(['share', '9', '--listen', '/ip4/127.0.0.1/tcp/0', '--allow', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', '--ephemeral', ...OFFLINE, '--no-webrtc', '--json'])
    const ready = await share.waitFor('ready', 30_000)
    const r = await benchmark(String(ready.connect), ['--duration', '1s', '--ephemeral', '--no-webrtc'])
    expect(r.code, r.stderr.slice(-2000)).toBe(10)
    expect(r.events.find(e => e.event === 'error')).toMatchObject({ code: 'refused' })
    expect(r.events.some(e => e.event === 'benchmark-result' && e.ok === true)).toBe(false)
    expect(String(r.stderr)).toMatch(/allow-list/)
    await share.waitFor('refused', 10_000, e => /allow-list/.test(String(e.reason)))

    // a secret share, reached by bare peer id (no secret): refused as well
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const secret = await spawn(['share', '9', '--listen', '/ip4/127.0.0.1/tcp/0', ...OFFLINE, '--no-webrtc', '--json'], home.dir)
    const sready = await secret.waitFor('ready', 30_000)
    expect(sready.access).toBe('secret')
    const bare = await benchmark(String(sready.peerId), ['--duration', '1s', '--no-webrtc'], home.dir)
    expect(bare.code, bare.stderr.slice(-2000)).toBe(10)
    expect(String(bare.stderr)).toMatch(/access secret/)
  }, 90_000)
})

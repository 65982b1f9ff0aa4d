/**
 * Issue 4: connecting with nothing but a peer id (or a name). A DHT of 20
 * server nodes in 4 processes on loopback; the share knows only node 1, the
 * connector only node 20. Real beam processes, bytes hashed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createBeam, peerKey } from 'beam'
import { multiaddr } from '@multiformats/multiaddr'
import { BeamProcess, LOOPBACK_LISTEN, OFFLINE, runBeam, tempHome } from '../helpers/beam.ts'
import { DhtSwarms } from '../helpers/dht-swarm.ts'
import { expectedHash, freePort, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

const swarms = new DhtSwarms()
const dht: string[] = []
const cleanups: Array<() => Promise<void>> = []
let http: TestHttp

beforeAll(async () => {
  http = await startHttpService()
  // 4 processes of 5 nodes, the last three bootstrapping from node 1
  dht.push(...await swarms.startDht(4, 5, 3000))
  expect(dht.length).toBe(20)
}, 90_000)

afterAll(async () => {
  await swarms.stop()
  await http?.close()
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

const node1 = (): string => dht[0] ?? ''
const node20 = (): string => dht[19] ?? ''

async function share (args: string[], home?: string): Promise<{ proc: BeamProcess, peerId: string, connect: string }> {
  let h = home
  if (h == null) {
    const t = await tempHome()
    cleanups.push(t.cleanup)
    h = t.dir
  }
  const proc = new BeamProcess(['share', String(http.port), ...(args.includes('--listen') ? [] : LOOPBACK_LISTEN), ...OFFLINE, '--bootstrap', node1(), '--json', ...args], { BEAM_HOME: h })
  cleanups.push(async () => { await proc.stop() })
  const ready = await proc.waitFor('ready', 30_000)
  const t0 = Date.now()
  const pub = await proc.waitFor('published', 60_000)
  console.log(`share ${String(ready.peerId).slice(0, 16)}: published in ${String(pub.ms)} ms (${Date.now() - t0} ms after ready)`)
  return { proc, peerId: String(ready.peerId), connect: String(ready.connect) }
}

async function connect (target: string, extra: string[] = []): Promise<{ proc: BeamProcess, port: number }> {
  const home = await tempHome()
  cleanups.push(home.cleanup)
  const proc = new BeamProcess(['connect', target, ...OFFLINE, '--bootstrap', node20(), '--json', ...extra], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop() })
  const t0 = Date.now()
  const ev = await proc.waitFor('listening', 60_000)
  const found = proc.events.find(e => e.event === 'lookup' && e.state === 'found')
  console.log(`connect ${target.slice(0, 24)}: listening after ${Date.now() - t0} ms (lookup ${String(found?.ms ?? '-')} ms)`)
  if (process.env.BEAM_TEST_TRACE === '1') {
    const lines = proc.stderr.split('\n').flatMap(l => { try { return [JSON.parse(l) as { time: number, level: number, msg: string, component?: string }] } catch { return [] } })
    const first = lines[0]?.time ?? 0
    for (const l of lines) if (l.level >= 30 || /dial/.test(l.msg)) console.log(l.time - first, l.component, l.msg.slice(0, 160))
  }
  return { proc, port: Number(ev.port) }
}

describe('finding a share by peer id through the DHT (20 servers, 4 processes)', () => {
  it('connects with nothing but the peer id: the share knows node 1, the connector node 20', async () => {
    const s = await share(['--public'])
    const c = await connect(s.peerId)
    const lookup = c.proc.events.find(e => e.event === 'lookup' && e.state === 'found')
    expect(lookup).toBeDefined()
    expect(Number(lookup?.addresses)).toBeGreaterThan(0)
    const got = await httpGet(c.port, '/download?mib=8&seed=41')
    expect(got.sha256).toBe(expectedHash(41, 8))
  }, 150_000)

  it('connects by name: --name myapp is reachable as myapp.<24 characters of the peer id>, and by the deprecated 16-character form with a warning', async () => {
    const s = await share(['--public', '--name', 'myapp'])
    const c = await connect(`myapp.${s.peerId.slice(0, 24)}`)
    expect(c.proc.events.find(e => e.event === 'listening')?.peerId).toBe(s.peerId)
    const got = await httpGet(c.port, '/download?mib=1&seed=42')
    expect(got.sha256).toBe(expectedHash(42, 1))
    expect(c.proc.stderr).not.toMatch(/deprecated form/)
    // the old form: the only provider whose id matches 16 characters, and one warning naming the 24-character form
    const old = await connect(`myapp.${s.peerId.slice(0, 16)}`)
    expect(old.proc.events.find(e => e.event === 'listening')?.peerId).toBe(s.peerId)
    const warnings = old.proc.stderr.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { level: number, msg: string }).filter(l => l.level === 40 && /deprecated form/.test(l.msg))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.msg).toContain(`use myapp.${s.peerId.slice(0, 24)}`)
    expect((await httpGet(old.port, '/download?mib=1&seed=44')).sha256).toBe(expectedHash(44, 1))
  }, 150_000)

  it('finds a restarted share at its new port', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const p1 = await freePort()
    const first = await share(['--public', '--listen', `/ip4/127.0.0.1/tcp/${p1}`], home.dir)
    await first.proc.stop()
    const p2 = await freePort()
    const second = await share(['--public', '--listen', `/ip4/127.0.0.1/tcp/${p2}`], home.dir)
    expect(second.peerId).toBe(first.peerId)
    const c = await connect(second.peerId)
    const path = await c.proc.waitFor('path', 15_000)
    expect(String(path.remote)).toContain(`/tcp/${p2}`)
    const got = await httpGet(c.port, '/download?mib=1&seed=43')
    expect(got.sha256).toBe(expectedHash(43, 1))
  }, 150_000)

  it('ignores a record someone else published for a peer id: a missing peer is "not found" (exit 8), never the forger', async () => {
    // the victim: an identity that runs no share
    const victim = await tempHome()
    cleanups.push(victim.cleanup)
    const id = await runBeam(['id', '--json'], { BEAM_HOME: victim.dir })
    const victimId = String((JSON.parse(id.stdout.trim().split('\n')[0] ?? '{}') as { peerId?: string }).peerId)
    // a forger announces itself under the victim's key
    const forger = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [multiaddr(node1())], transports: { webrtc: false } })
    cleanups.push(async () => { await forger.stop() })
    await new Promise(resolve => setTimeout(resolve, 1000))
    await forger.libp2p.contentRouting.provide(await peerKey(victimId), { signal: AbortSignal.timeout(20_000) })
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const r = await runBeam(['connect', victimId, ...OFFLINE, '--bootstrap', node20(), '--timeout', '8000', '--json'], { BEAM_HOME: home.dir }, 40_000)
    expect(r.code).toBe(8)
    expect(r.stderr).toMatch(/not found in the DHT/)
    expect(r.stdout).not.toMatch(/"event":"listening"/)
  }, 150_000)

  it('an unknown name or a short prefix fails clearly', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const short = await runBeam(['connect', 'myapp.12D3KooW', ...OFFLINE, '--bootstrap', node20()], { BEAM_HOME: home.dir })
    expect(short.code).toBe(4)
    expect(short.stderr).toMatch(/at least 24 characters/)
    const missing = await runBeam(['connect', 'nosuchapp.12D3KooWAAAAAAAAAAAA', ...OFFLINE, '--bootstrap', node20(), '--timeout', '5000'], { BEAM_HOME: home.dir }, 30_000)
    expect(missing.code).toBe(8)
    expect(missing.stderr.trim().split('\n').filter(l => l.startsWith('beam:'))).toHaveLength(1)
  }, 60_000)
})

import { describe, it, expect, afterEach } from 'vitest'
import { BeamProcess, OFFLINE, tempHome } from '../helpers/beam.ts'
import { createHash } from 'node:crypto'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam } from 'beam'
import { startHttpService, httpGet, expectedHash, block } from '../helpers/services.ts'
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

async function relayedShare (relayAddr: string | string[], servicePort: number): Promise<{ proc: BeamProcess, connect: string }> {
  const home = await tempHome()
  const boot = (Array.isArray(relayAddr) ? relayAddr : [relayAddr]).flatMap(a => ['--bootstrap', a])
  const proc = new BeamProcess(['share', String(servicePort), '--no-listen', ...OFFLINE, ...boot, '--json'], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  const ready = await proc.waitFor('ready', 30_000)
  return { proc, connect: String(ready.connect) }
}

async function connect (cs: string, relayAddr: string | string[], extra: string[] = []): Promise<{ proc: BeamProcess, port: number }> {
  const home = await tempHome()
  const boot = (Array.isArray(relayAddr) ? relayAddr : [relayAddr]).flatMap(a => ['--bootstrap', a])
  const proc = new BeamProcess(['connect', cs, ...OFFLINE, ...boot, '--json', ...extra], { BEAM_HOME: home.dir })
  cleanups.push(async () => { await proc.stop(); await home.cleanup() })
  const ev = await proc.waitFor('listening', 40_000)
  return { proc, port: Number(ev.port) }
}

/** SHA-256 of the first `n` bytes of the download of seed `seed`. */
function prefixHash (seed: number, n: number): string {
  const h = createHash('sha256')
  for (let i = 0, left = n; left > 0; i++) {
    const b = block(seed, i)
    h.update(b.subarray(0, Math.min(left, b.length)))
    left -= b.length
  }
  return h.digest('hex')
}

async function service (): Promise<TestHttp> {
  const http = await startHttpService()
  cleanups.push(async () => { await http.close() })
  return http
}

describe('beam relay', () => {
  it('runs with the relay heap flags (same PID re-executed), and without them when BEAM_RELAY_HEAP=default', async () => {
    const r = await relay()
    const ready = r.proc.events.find(e => e.event === 'ready')
    const flags = (ready?.runtime as { flags?: string[] } | undefined)?.flags ?? []
    expect(flags).toEqual(expect.arrayContaining(['--max-semi-space-size=16', '--heap-growing-percent=10']))
    const home = await tempHome()
    const plain = new BeamProcess(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--json'], { BEAM_HOME: home.dir, BEAM_RELAY_HEAP: 'default' })
    cleanups.push(async () => { await plain.stop(); await home.cleanup() })
    const ev = await plain.waitFor('ready', 30_000)
    expect((ev.runtime as { flags?: string[] }).flags ?? []).not.toContain('--max-semi-space-size=16')
  })

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

  it('works over WebSockets: a relay listening only on /ws carries a relayed tunnel', async () => {
    const http = await service()
    const home = await tempHome()
    const proc = new BeamProcess(['relay', '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--stun-port', '0', '--json'], { BEAM_HOME: home.dir })
    cleanups.push(async () => { await proc.stop(); await home.cleanup() })
    const ready = await proc.waitFor('ready', 30_000)
    const addr = (ready.multiaddrs as string[])[0] ?? ''
    expect(addr).toMatch(/\/tcp\/\d+\/ws\/p2p\//)
    const s = await relayedShare(addr, http.port)
    const c = await connect(s.connect, addr, ['--no-webrtc'])
    const path = await c.proc.waitFor('path', 15_000)
    expect(path).toMatchObject({ direct: false, transport: 'relay' })
    expect(String(path.relay)).toContain('/ws')
    const got = await httpGet(c.port, '/download?mib=4&seed=26')
    expect(got.sha256).toBe(expectedHash(26, 4))
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

  it('a relay with a data limit carries signalling only: a connector without WebRTC exits 9 with one line, and the service sees nothing', async () => {
    const http = await service()
    const r = await relay(['--max-bytes', '2MiB', '--metrics', '127.0.0.1:0'])
    const s = await relayedShare(r.addr, http.port)
    const home = await tempHome()
    const c = new BeamProcess(['connect', s.connect, ...OFFLINE, '--bootstrap', r.addr, '--no-webrtc', '--json'], { BEAM_HOME: home.dir })
    cleanups.push(async () => { await c.stop(); await home.cleanup() })
    const started = Date.now()
    const end = await c.exited
    expect(end.code).toBe(9)
    expect(Date.now() - started).toBeLessThan(40_000)
    expect(c.events.some(e => e.event === 'listening')).toBe(false)
    const error = c.events.find(e => e.event === 'error')
    expect(error).toMatchObject({ code: 'limited-relay' })
    // one line: what happened, and what would fix it
    expect(c.stderr).toMatch(/relay that limits connections \(2 MiB[^)]*\), which carries signalling but no tunnel; WebRTC is off on this node[^\n]*; drop --no-webrtc, or have the share hold a reservation on a relay without limits/)
    expect(http.accepted()).toBe(0)
    // the probe and identify crossed the relay; no tunnel did
    const text = await (await fetch(r.metrics ?? '')).text()
    const relayed = Number(/^beam_relay_bytes_relayed_total (\d+)$/m.exec(text)?.[1] ?? NaN)
    expect(relayed).toBeLessThan(64 * 1024)
  })

  it('applies a data limit when one is set: the relay cuts a relayed connection for it (an app stream over the limited connection), and what arrived is intact', async () => {
    const limit = 2 * 1024 * 1024
    const r = await relay(['--max-bytes', '2MiB', '--metrics', '127.0.0.1:0'])
    const relayAddr = multiaddr(r.addr)
    // two library nodes: one reachable only through the relay, one that dials it there
    const hidden = await createBeam({ dht: false, listen: [], bootstrap: [relayAddr], reservations: 1, transports: { webrtc: false } })
    const dialer = await createBeam({ dht: false, listen: [], transports: { webrtc: false } })
    cleanups.push(async () => { await dialer.stop(); await hidden.stop() })
    expect((await hidden.waitForReservation({ timeout: 30_000 })).length).toBeGreaterThan(0)
    // the hidden node sends 4 MiB to whoever opens the stream, at a relay that allows 2 MiB a connection
    await hidden.handle('/test/source/1.0.0', async (duplex) => {
      duplex.on('error', () => {})
      for (let i = 0; i < 4 && !duplex.destroyed; i++) {
        if (!duplex.write(block(31, i))) await new Promise(resolve => { duplex.once('drain', resolve); duplex.once('close', resolve) })
      }
      duplex.end()
    })
    const inbound = await dialer.open(hidden.connectString(), '/test/source/1.0.0', { signal: AbortSignal.timeout(30_000) })
    inbound.write('go')
    let received = 0
    const hash = createHash('sha256')
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, 60_000)
      const done = (): void => { clearTimeout(timer); resolve() }
      inbound.on('data', (b: Buffer) => { received += b.length; hash.update(b) })
      inbound.on('error', done).on('close', done).on('end', done)
    })
    // the relay cut the connection for its limit: less than the limit arrived
    // (it counts both directions and all framing, and drops what was in flight)
    expect(received).toBeGreaterThan(0)
    expect(received).toBeLessThan(limit)
    // every byte that arrived is the right one
    expect(hash.digest('hex')).toBe(prefixHash(31, received))
    const text = await (await fetch(r.metrics ?? '')).text()
    const value = (line: RegExp): number => Number(line.exec(text)?.[1] ?? NaN)
    expect(value(/^beam_relay_circuits_cut_total\{limit="data_limit"\} (\d+)$/m)).toBe(1)
    expect(value(/^beam_relay_circuits_cut_total\{limit="duration_limit"\} (\d+)$/m)).toBe(0)
    // what the relay forwarded: what arrived, and no more than the limit
    const relayed = value(/^beam_relay_bytes_relayed_total (\d+)$/m)
    expect(relayed).toBeGreaterThan(received)
    expect(relayed).toBeLessThanOrEqual(limit)
  })

  it('a relay with a duration limit signals a direct path; the tunnel runs over it and outlives the relay\'s cut', async () => {
    const http = await service()
    const r = await relay(['--max-duration', '2s'])
    const s = await relayedShare(r.addr, http.port)
    // loopback ICE uses a pinned host candidate (BEAM_WEBRTC_BIND, set by the test helper)
    const c = await connect(s.connect, r.addr)
    const waiting = c.proc.events.find(e => e.event === 'limited' && e.state === 'waiting')
    // a time limit only: the data limit the library must also send is one nobody reaches, and is left out
    expect(waiting).toMatchObject({ limits: { bytes: null } })
    expect((waiting?.limits as { seconds: number }).seconds).toBeGreaterThan(0)
    expect(c.proc.events.some(e => e.event === 'limited' && e.state === 'direct')).toBe(true)
    const path = await c.proc.waitFor('path', 20_000)
    expect(path).toMatchObject({ direct: true, transport: 'webrtc' })
    // past the relay's 2 s: the tunnel does not depend on it
    await new Promise(resolve => setTimeout(resolve, 3000))
    const got = await httpGet(c.port, '/download?mib=4&seed=24')
    expect(got.sha256).toBe(expectedHash(24, 4))
    expect(c.proc.events.some(e => e.event === 'disconnected')).toBe(false)
  })

  it('reports reservations and circuits as Prometheus metrics', async () => {
    const http = await service()
    const r = await relay(['--metrics', '127.0.0.1:0'])
    expect(r.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const s = await relayedShare(r.addr, http.port)
    const c = await connect(s.connect, r.addr, ['--no-webrtc'])
    const got = await httpGet(c.port, '/download?mib=2&seed=25')
    expect(got.sha256).toBe(expectedHash(25, 2))
    const text = await (await fetch(r.metrics ?? '')).text()
    const value = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)
    expect(value('beam_relay_reservations')).toBe(1)
    expect(value('beam_relay_circuits')).toBeGreaterThanOrEqual(1)
    expect(value('beam_relay_reservations_accepted_total')).toBeGreaterThanOrEqual(1)
    expect(value('beam_relay_circuits_accepted_total')).toBeGreaterThanOrEqual(1)
    // every relayed byte counted once: the 2 MiB body plus HTTP, handshakes, pings
    expect(value('beam_relay_bytes_relayed_total')).toBeGreaterThan(2 * 1024 * 1024)
    expect(value('beam_relay_bytes_relayed_total')).toBeLessThan(3 * 1024 * 1024)
    expect(text).toMatch(/^beam_relay_refusals_total\{reason="permission_denied"\} 0$/m)
    // memory, split so an operator can tell a heap leak from buffered data
    expect(value('beam_relay_resident_memory_bytes')).toBeGreaterThan(value('beam_relay_heap_used_bytes'))
    expect(value('beam_relay_heap_used_bytes')).toBeGreaterThan(1024 * 1024)
    expect(value('beam_relay_external_memory_bytes')).toBeGreaterThan(0)
  })

  it('counts refusals by reason: a private relay refusing a reservation', async () => {
    const http = await service()
    const r = await relay(['--metrics', '127.0.0.1:0', '--allow', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'])
    await relayedShare(r.addr, http.port).catch(() => {})
    let text = ''
    for (let i = 0; i < 20; i++) {
      text = await (await fetch(r.metrics ?? '')).text()
      if (/^beam_relay_refusals_total\{reason="permission_denied"\} [1-9]/m.test(text)) break
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    expect(text).toMatch(/^beam_relay_refusals_total\{reason="permission_denied"\} [1-9]\d*$/m)
    expect(text).toMatch(/^beam_relay_reservations 0$/m)
  })

  it('caps relayed connections per peer: a second circuit from the same peer is refused and counted', async () => {
    const http = await service()
    const r = await relay(['--metrics', '127.0.0.1:0', '--max-circuits-per-peer', '1'])
    const a = await relayedShare(r.addr, http.port)
    const b = await relayedShare(r.addr, http.port)
    // two connectors with one identity (one BEAM_HOME): to the relay they are one peer
    const home = await tempHome()
    cleanups.push(async () => { await home.cleanup() })
    const first = new BeamProcess(['connect', a.connect, ...OFFLINE, '--bootstrap', r.addr, '--no-webrtc', '--json'], { BEAM_HOME: home.dir })
    cleanups.push(async () => { await first.stop() })
    await first.waitFor('listening', 30_000)
    const second = new BeamProcess(['connect', b.connect, ...OFFLINE, '--bootstrap', r.addr, '--no-webrtc', '--timeout', '8000', '--json'], { BEAM_HOME: home.dir })
    cleanups.push(async () => { await second.stop() })
    const end = await second.exited
    expect(end.code).toBe(9)
    expect(second.stderr).toMatch(/RESOURCE_LIMIT_EXCEEDED|resource limit/i)
    const text = await (await fetch(r.metrics ?? '')).text()
    expect(text).toMatch(/^beam_relay_refusals_total\{reason="resource_limit_exceeded"\} [1-9]\d*$/m)
    expect(text).toMatch(/^beam_relay_cap_refusals_total\{cap="circuits_per_peer"\} [1-9]\d*$/m)
  })

  it('moves past a full relay and replaces a relay that goes away (two reservations kept among four relays)', async () => {
    const http = await service()
    const full = await relay(['--max-reservations', '1'])
    // fill the small relay with someone else's reservation
    await relayedShare(full.addr, http.port)
    const spare = [await relay(), await relay(), await relay()]
    const s = await relayedShare([full.addr, ...spare.map(r => r.addr)], http.port)
    const id = (addr: string): string => addr.split('/p2p/')[1] ?? '?'
    const held = (): string[] => {
      const ev = s.proc.events.filter(e => e.event === 'addresses').pop() ?? s.proc.events.find(e => e.event === 'ready')
      const ms = ((ev?.multiaddrs ?? []) as string[]).filter(m => m.includes('/p2p-circuit') && !m.includes('/webrtc'))
      return [...new Set(ms.map(m => (m.split('/p2p-circuit')[0] ?? '').split('/p2p/')[1] ?? ''))]
    }
    const waitHeld = async (pred: (h: string[]) => boolean, ms: number): Promise<string[]> => {
      const deadline = Date.now() + ms
      while (!pred(held()) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 250))
      return held()
    }
    const before = await waitHeld(h => h.length >= 2, 15_000)
    expect(before.length).toBe(2)
    expect(before).not.toContain(id(full.addr))
    const victim = spare.find(r => before.includes(id(r.addr)))
    const unused = spare.find(r => !before.includes(id(r.addr)))
    expect(victim).toBeDefined()
    expect(unused).toBeDefined()
    await victim?.proc.stop('SIGKILL')
    const after = await waitHeld(h => h.length >= 2 && !h.includes(id(victim?.addr ?? '')), 30_000)
    expect(after).not.toContain(id(victim?.addr ?? ''))
    expect(after).toContain(id(unused?.addr ?? ''))
    expect(after.length).toBe(2)
  })

  it('survives the loss of one relay: the share holds two reservations and new connections go through the other', async () => {
    const http = await service()
    const r1 = await relay()
    const r2 = await relay()
    const s = await relayedShare([r1.addr, r2.addr], http.port)
    const circuits = [...new Set((await s.proc.waitFor('ready')).multiaddrs as string[])].filter(m => m.includes('/p2p-circuit'))
    // both relays carry a reservation (the addresses may arrive in two steps)
    let relayed = circuits
    for (let i = 0; i < 20 && new Set(relayed.map(m => m.split('/p2p-circuit')[0])).size < 2; i++) {
      const ev = s.proc.events.filter(e => e.event === 'addresses').pop()
      relayed = ((ev?.multiaddrs ?? relayed) as string[]).filter(m => m.includes('/p2p-circuit'))
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    expect(new Set(relayed.map(m => m.split('/p2p-circuit')[0])).size).toBe(2)
    const last = s.proc.events.filter(e => e.event === 'addresses').pop()?.connect ?? s.connect
    await r1.proc.stop('SIGKILL')
    const c = await connect(String(last), [r1.addr, r2.addr], ['--no-webrtc'])
    const path = await c.proc.waitFor('path', 15_000)
    expect(String(path.remote)).toContain(r2.addr.split('/p2p/')[1] ?? 'missing')
    const got = await httpGet(c.port, '/download?mib=2&seed=24')
    expect(got.sha256).toBe(expectedHash(24, 2))
  })
})

/**
 * beam behind real NATs (issue 3): a lab internet on 198.51.100.0/24 with two
 * `beam relay` nodes and a TURN server, a public peer, two peers behind
 * endpoint-independent NATs and two behind symmetric NATs. Every case moves
 * 32 MiB hashed on both ends, asserts the final path, and checks from the NAT
 * routers' conntrack byte counters where the bytes actually went.
 *
 * The figures (time to first byte, path times, throughput) are printed as a
 * table at the end; docs/nat-traversal.md quotes a run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BeamEvent, BeamProcess } from '../helpers/beam.ts'
import { LabBeams } from './lab-beam.ts'
import { expectedHash } from '../helpers/services.ts'
import { createLab, labAvailable } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { JsonLines } from './udp-reflector.ts'
import type { JsonLine } from './udp-reflector.ts'
import { LAB_HTTP } from './lab-http.ts'
import { bytesTo, hasCounters, parseConntrack } from './flows.ts'
import { startTurn, turnAvailable } from './turn.ts'
import type { LabTurn } from './turn.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'

const avail = await labAvailable()
const skipLab = suiteNeeds('NAT traversal lab tests', avail)
const turnOk = turnAvailable()

const MIB = 32
const BIG = MIB * 1024 * 1024
/** A direct flow must carry at least the transfer; the relay next to nothing of it. */
const SMALL = 4 * 1024 * 1024

interface Row { case: string, share: string, connect: string, path: string, listeningMs: number, firstByteMs: number, finalPathMs: number, mbps: number }
const rows: Row[] = []

describe.skipIf(skipLab)('NAT traversal in the lab', () => {
  let lab: Lab
  const relays: Array<{ host: string, proc: BeamProcess, addr: string, stun: string }> = []
  let turn: LabTurn | undefined

  let beams: LabBeams
  const beam = async (host: string, args: string[]): Promise<BeamProcess> => await beams.start(host, args)

  async function startRelay (host: string, bootstrap: string[] = []): Promise<void> {
    const ip = lab.hosts[host]?.ip ?? ''
    const proc = await beam(host, ['relay', '--listen', '/ip4/0.0.0.0/tcp/4001', '--listen', '/ip4/0.0.0.0/udp/4001/quic-v1',
      '--announce', `/ip4/${ip}/tcp/4001`, '--announce', `/ip4/${ip}/udp/4001/quic-v1`, '--stun-port', '3478',
      ...bootstrap.flatMap(b => ['--bootstrap', b])])
    const ready = await proc.waitFor('ready', 30_000)
    relays.push({ host, proc, addr: (ready.multiaddrs as string[]).find(a => a.includes('/tcp/')) ?? '', stun: `stun:${ip}:3478` })
  }

  /** Network flags of a peer: the relays as bootstrap, their STUN (and TURN when asked). */
  function net (opts: { relays?: number[], turn?: boolean } = {}): string[] {
    const use = (opts.relays ?? [0, 1]).map(i => relays[i]).filter(r => r != null)
    return ['--no-default-bootstrap', ...use.flatMap(r => ['--bootstrap', r.addr, '--ice-server', r.stun]),
      ...(opts.turn === true && turn != null ? ['--ice-server', turn.url] : [])]
  }

  async function service (host: string): Promise<number> {
    const svc = new JsonLines(lab.spawn(host, [process.execPath, LAB_HTTP, 'serve']))
    const ready = await svc.waitFor(l => l.event === 'ready')
    return Number(ready.port)
  }

  async function share (host: string, opts: { relays?: number[], turn?: boolean, args?: string[] } = {}): Promise<{ proc: BeamProcess, connect: string, ready: BeamEvent }> {
    const port = await service(host)
    const proc = await beam(host, ['share', String(port), ...net(opts), ...(opts.args ?? [])])
    const ready = await proc.waitFor('ready', 30_000)
    return { proc, connect: String(ready.connect), ready }
  }

  async function connect (host: string, cs: string, opts: { relays?: number[], turn?: boolean } = {}): Promise<{ proc: BeamProcess, port: number, spawnedAt: number, listeningMs: number }> {
    const spawnedAt = Date.now()
    const proc = await beam(host, ['connect', cs, ...net(opts)])
    const ev = await proc.waitFor('listening', 40_000)
    return { proc, port: Number(ev.port), spawnedAt, listeningMs: Date.now() - spawnedAt }
  }

  async function get (host: string, port: number, mib: number, seed: number): Promise<JsonLine> {
    const g = new JsonLines(lab.spawn(host, [process.execPath, LAB_HTTP, 'get', String(port), `/download?mib=${mib}&seed=${seed}`]))
    return await g.waitFor(l => l.event === 'done' || l.event === 'error', 120_000)
  }

  /** Flows through a host's NAT router, with byte counters. */
  async function flows (host: string): Promise<ReturnType<typeof parseConntrack>> {
    const f = parseConntrack(await lab.conntrack(host))
    expect(hasCounters(f), 'conntrack accounting must be on in lab routers').toBe(true)
    return f
  }

  /**
   * The common shape of a case: share on A, connect from B, a small request
   * for the time to first byte, then wait for the final path (direct, or the
   * failed upgrade that leaves it relayed), then 32 MiB hashed.
   */
  async function runCase (name: string, a: string, b: string, want: 'direct' | 'relayed' | 'turn', opts: { turn?: boolean } = {}): Promise<{ path: BeamEvent, c: Awaited<ReturnType<typeof connect>> }> {
    const s = await share(a, opts)
    const c = await connect(b, s.connect, opts)
    const first = await get(b, c.port, 0, 1)
    expect(first.event).toBe('done')
    const firstByteMs = Date.now() - c.spawnedAt
    let path: BeamEvent
    if (want === 'direct') {
      path = await c.proc.waitFor('path', 45_000, e => e.direct === true)
    } else if (want === 'turn') {
      path = await c.proc.waitFor('path', 45_000, e => e.turn === true)
    } else {
      // relayed for good once the WebRTC upgrade has failed
      await c.proc.waitFor('upgrade', 30_000, e => e.state === 'failed')
      path = c.proc.events.filter(e => e.event === 'path').at(-1) ?? await c.proc.waitFor('path', 5000)
    }
    const finalPathMs = Date.now() - c.spawnedAt
    const got = await get(b, c.port, MIB, 7)
    expect(got.event, JSON.stringify(got)).toBe('done')
    expect(got.bytes).toBe(BIG)
    expect(got.sha256).toBe(expectedHash(7, MIB))
    // the path did not change under the transfer
    const last = c.proc.events.filter(e => e.event === 'path').at(-1)
    expect({ direct: last?.direct, transport: last?.transport, remote: last?.remote }).toEqual({ direct: path.direct, transport: path.transport, remote: path.remote })
    rows.push({
      case: name,
      share: a,
      connect: b,
      path: path.turn === true ? 'relayed (TURN)' : path.direct === true ? `direct ${String(path.transport)}` : 'relayed',
      listeningMs: c.listeningMs,
      firstByteMs,
      finalPathMs,
      mbps: Math.round(BIG / 1e6 / (Number(got.ms) / 1000) * 10) / 10
    })
    return { path, c }
  }

  beforeAll(async () => {
    lab = await createLab({ hosts: [
      { name: 'relay1' }, { name: 'relay2' }, { name: 'pub' },
      { name: 'e1', nat: 'eim' }, { name: 'e2', nat: 'eim' },
      { name: 's1', nat: 'symmetric' }, { name: 's2', nat: 'symmetric' },
      { name: 'q1', nat: 'sequential' }
    ] })
    beams = new LabBeams(lab)
    // relay2 joins relay1: together they are the lab's DHT
    await startRelay('relay1')
    await startRelay('relay2', [relays[0]?.addr ?? ''])
    if (turnOk.ok) turn = await startTurn(lab, 'relay2')
  }, 90_000)

  afterAll(async () => {
    await beams?.stopAll()
    await turn?.stop()
    await lab?.teardown()
    if (rows.length > 0) {
      console.log('\nNAT lab matrix (ms from spawning beam connect; MB/s of the 32 MiB transfer):')
      console.table(rows)
    }
  }, 60_000)

  it('1. both behind endpoint-independent NATs: direct (WebRTC hole punch), bytes flow peer to peer', async () => {
    const { path } = await runCase('eim-eim', 'e1', 'e2', 'direct')
    expect(path).toMatchObject({ direct: true, transport: 'webrtc' })
    const f = await flows('e1')
    expect(bytesTo(f, lab.hosts.e2?.publicIp ?? '', 'udp')).toBeGreaterThan(BIG)
    expect(bytesTo(f, lab.hosts.relay1?.ip ?? '') + bytesTo(f, lab.hosts.relay2?.ip ?? '')).toBeLessThan(SMALL)
  }, 120_000)

  it('2a. share public, connector behind a NAT: direct TCP to the share', async () => {
    const { path } = await runCase('public-eim', 'pub', 'e1', 'direct')
    expect(path).toMatchObject({ direct: true, transport: 'tcp' })
    const f = await flows('e1')
    expect(bytesTo(f, lab.hosts.pub?.ip ?? '', 'tcp')).toBeGreaterThan(BIG)
  }, 120_000)

  it('2b. share behind a NAT, connector public: direct (WebRTC; the share\'s NAT opens to the connector)', async () => {
    const { path } = await runCase('eim-public', 'e2', 'pub', 'direct')
    expect(path.direct).toBe(true)
    const f = await flows('e2')
    expect(bytesTo(f, lab.hosts.pub?.ip ?? '')).toBeGreaterThan(BIG)
  }, 120_000)

  it('2c. share behind a symmetric NAT, connector public: direct', async () => {
    const { path } = await runCase('sym-public', 's1', 'pub', 'direct')
    expect(path.direct).toBe(true)
    const f = await flows('s1')
    expect(bytesTo(f, lab.hosts.pub?.ip ?? '')).toBeGreaterThan(BIG)
  }, 120_000)

  it('3. symmetric NAT against endpoint-independent NAT: direct (birthday hole punch, then WebRTC on the punched ports), bytes flow peer to peer', async () => {
    const { path, c } = await runCase('sym-eim', 's2', 'e1', 'direct')
    expect(path).toMatchObject({ direct: true, transport: 'webrtc' })
    expect(c.proc.events.some(e => e.event === 'upgrade' && e.technique === 'punch' && e.state === 'succeeded')).toBe(true)
    const f = await flows('e1')
    expect(bytesTo(f, lab.hosts.s2?.publicIp ?? '', 'udp')).toBeGreaterThan(BIG)
    expect(bytesTo(f, lab.hosts.relay1?.ip ?? '') + bytesTo(f, lab.hosts.relay2?.ip ?? '')).toBeLessThan(SMALL)
  }, 120_000)

  // time to direct over 20 connectors in a row (a new peer id each, so the share's per-peer cap
  // does not apply): from the first path event (relayed) to the direct one
  for (const [name, shareHost, connectHost] of [['symmetric share, EIM connector', 's2', 'e1'], ['EIM share, symmetric connector', 'e1', 's1'], ['sequential share, EIM connector', 'q1', 'e2']] as const) {
    it(`3c. ${name}: 20 connectors in a row go direct by the hole punch`, async () => {
      const s = await share(shareHost)
      const ms: number[] = []
      const fromSpawn: number[] = []
      let failed = 0
      const n = 20
      for (let i = 0; i < n; i++) {
        const c = await connect(connectHost, s.connect)
        await c.proc.waitFor('path', 30_000)
        const t0 = Date.now()
        try {
          await c.proc.waitFor('path', 30_000, e => e.direct === true)
          ms.push(Date.now() - t0)
          fromSpawn.push(Date.now() - c.spawnedAt)
          // a slow one: say why (which attempt failed first)
          if ((ms.at(-1) ?? 0) > 5000) console.log(`slow (${String(ms.at(-1))} ms): ${JSON.stringify(c.proc.events.filter(e => e.event === 'upgrade').map(e => ({ technique: e.technique, state: e.state, ms: e.ms, error: e.error })))}`)
          expect(c.proc.events.some(e => e.event === 'upgrade' && e.technique === 'punch' && e.state === 'succeeded')).toBe(true)
        } catch {
          failed++
          console.log(`not direct (connector ${i}): ${JSON.stringify(c.proc.events.filter(e => e.event === 'upgrade'))}`)
        }
        await c.proc.stop('SIGTERM', 3000)
      }
      ms.sort((a, b) => a - b)
      console.log(`beam hole punch, ${name}: ${ms.length}/${n} direct; ms from relayed to direct ${ms.join(',')}`)
      rows.push({ case: `${name} ×${n}`, share: shareHost, connect: connectHost, path: `${ms.length}/${n} direct`, listeningMs: 0, firstByteMs: 0, finalPathMs: ms[Math.floor(ms.length / 2)] ?? 0, mbps: 0 })
      fromSpawn.sort((a, b) => a - b)
      console.log(`beam hole punch, ${name}: ${ms.filter(x => x <= 5000).length}/${n} direct within 5 s of the relayed path; ms from spawning beam connect to direct ${fromSpawn.join(',')} (${fromSpawn.filter(x => x <= 5000).length} within 5 s)`)
      // every connector goes direct, and ≥ 90 % within 5 s of the relayed path (issue 23): since a
      // WebRTC connection whose DTLS handshake fails on the punched pair fails at once and is retried
      // with a new punch (channel-fail-fast.ts, upgrade.ts), 19-20 of 20 in each pairing on this
      // shared 2-core machine; before, 13-20 of 20 (a failed one hung 12 s, then 5 s of backoff).
      // From spawning beam connect the process's own start (0.6-4 s under load) comes on top: reported
      expect(ms).toHaveLength(n)
      expect(ms.filter(x => x <= 5000).length).toBeGreaterThanOrEqual(Math.ceil(n * 0.9))
      await s.proc.stop('SIGTERM', 3000)
    }, 20 * 40_000)
  }

  it('4a. both symmetric: relayed through beam relay, transfer complete', async () => {
    const { path } = await runCase('sym-sym', 's1', 's2', 'relayed')
    expect(path).toMatchObject({ direct: false, transport: 'relay' })
    const f = await flows('s2')
    expect(bytesTo(f, lab.hosts.relay1?.ip ?? '', 'tcp') + bytesTo(f, lab.hosts.relay2?.ip ?? '', 'tcp')).toBeGreaterThan(BIG)
  }, 120_000)

  it.skipIf(skipLab || suiteNeeds('NAT traversal lab: the TURN case', turnOk))('4b. both symmetric with a TURN server configured: WebRTC relayed by TURN', async () => {
    const { path } = await runCase('sym-sym-turn', 's2', 's1', 'turn', { turn: true })
    // a WebRTC connection whose selected ICE pair has a relay candidate: the TURN server carries the bytes
    expect(path).toMatchObject({ direct: false, transport: 'webrtc', turn: true })
    const f = await flows('s1')
    expect(bytesTo(f, lab.hosts.relay2?.ip ?? '', 'udp')).toBeGreaterThan(BIG)
    expect(bytesTo(f, lab.hosts.s2?.publicIp ?? '')).toBeLessThan(SMALL)
  }, 120_000)

  it('finds a NATed share by its peer id alone: share knows relay1 only, connector relay2 only (DHT on the relays)', async () => {
    const s = await share('e1', { relays: [0], args: ['--public'] })
    await s.proc.waitFor('published', 30_000)
    const peerId = String(s.ready.peerId)
    const c = await connect('s2', peerId, { relays: [1] })
    const found = c.proc.events.find(e => e.event === 'lookup' && e.state === 'found')
    expect(found).toBeDefined()
    const got = await get('s2', c.port, 8, 10)
    expect(got.sha256).toBe(expectedHash(10, 8))
    rows.push({ case: 'dht-lookup (sym→eim)', share: 'e1', connect: 's2', path: 'relayed', listeningMs: c.listeningMs, firstByteMs: Date.now() - c.spawnedAt, finalPathMs: 0, mbps: 0 })
  }, 120_000)

  it('beam doctor: classifies each NAT with the relays\' STUN and explains a relayed tunnel', async () => {
    const run = async (host: string, args: string[]): Promise<BeamEvent> => {
      const p = await beam(host, ['doctor', ...args, ...net(), '--settle', '30000'])
      const end = await p.exited
      expect(end.code, p.stderr.slice(-2000)).toBe(0)
      const ev = p.events.find(e => e.event === 'doctor')
      expect(ev).toBeDefined()
      return ev as BeamEvent
    }
    const [pub, eim] = await Promise.all([run('pub', []), run('e2', [])])
    expect((pub.nat as { mapping: string }).mapping).toBe('none')
    expect((eim.nat as { mapping: string }).mapping).toBe('endpoint-independent')
    expect((eim.bootstrap as Array<{ ok: boolean, relay: boolean }>).every(b => b.ok && b.relay), JSON.stringify(eim.bootstrap)).toBe(true)
    // a symmetric connector against a symmetric share: relayed, and doctor says why (against an
    // EIM share it now goes direct by the birthday hole punch, case 3)
    const s = await share('s1')
    const sym = await run('s2', [s.connect])
    expect((sym.nat as { mapping: string }).mapping).toBe('symmetric')
    const t = sym.target as { path: { transport: string, direct: boolean }, upgrades: Array<{ state: string }>, attempts: Array<{ kind: string, ok: boolean }> }
    expect(t.path).toMatchObject({ transport: 'relay', direct: false })
    expect(t.upgrades.some(u => u.state === 'failed')).toBe(true)
    expect(t.attempts.some(a => a.kind === 'direct' && !a.ok)).toBe(true)
    const verdict = (sym.verdict as string[]).join(' ')
    expect(verdict).toMatch(/symmetric/)
    expect(verdict).toMatch(/relayed via/)
    expect(verdict).toMatch(/TURN/)
  }, 120_000)

  it('5. the share\'s relay dies mid-session: a transfer on the direct path is not disturbed; new connections go through the other relay', async () => {
    const s = await share('e1')
    const circuits = (s.ready.multiaddrs as string[]).filter(a => a.includes('/p2p-circuit') && !a.includes('/webrtc'))
    // reservations on both relays
    expect(circuits.some(a => a.includes(lab.hosts.relay1?.ip ?? '?'))).toBe(true)
    expect(circuits.some(a => a.includes(lab.hosts.relay2?.ip ?? '?'))).toBe(true)
    const c = await connect('e2', s.connect)
    await c.proc.waitFor('path', 45_000, e => e.direct === true)
    const big = new JsonLines(lab.spawn('e2', [process.execPath, LAB_HTTP, 'get', String(c.port), '/download?mib=64&seed=8']))
    await new Promise(resolve => setTimeout(resolve, 300))
    const r1 = relays.find(r => r.host === 'relay1')
    expect(r1).toBeDefined()
    await r1?.proc.stop('SIGKILL')
    const got = await big.waitFor(l => l.event === 'done' || l.event === 'error', 120_000)
    expect(got.event, JSON.stringify(got)).toBe('done')
    expect(got.sha256).toBe(expectedHash(8, 64))
    // the share drops the dead relay's addresses and prints a new connect string
    const deadIp = lab.hosts.relay1?.ip ?? '?'
    let fresh: string | undefined
    for (let i = 0; i < 60 && fresh == null; i++) {
      const ev = s.proc.events.filter(e => e.event === 'addresses').at(-1)
      if (ev != null && !(ev.multiaddrs as string[]).some(m => m.includes(deadIp))) fresh = String(ev.connect)
      else await new Promise(resolve => setTimeout(resolve, 250))
    }
    expect(fresh, 'the share publishes addresses without the dead relay').toBeDefined()
    // a new connector that can only be relayed (symmetric NAT, no TURN) gets through the surviving relay
    const c2 = await connect('s2', fresh ?? '')
    const small = await get('s2', c2.port, 8, 9)
    expect(small.event, `${JSON.stringify(small)}\n${c2.proc.stderr.split('\n').filter(l => /"level":(30|40|50)/.test(l)).slice(-15).join('\n')}`).toBe('done')
    expect(small.sha256).toBe(expectedHash(9, 8))
    const path = c2.proc.events.filter(e => e.event === 'path').at(-1)
    expect(String(path?.remote)).toContain(lab.hosts.relay2?.ip ?? '?')
    // and so does one with the old connect string, which still names the dead relay first
    const c3 = await connect('s2', s.connect)
    const again = await get('s2', c3.port, 1, 11)
    expect(again.event, `${JSON.stringify(again)}\n${c3.proc.stderr.split('\n').filter(l => /"level":(30|40|50)/.test(l)).slice(-15).join('\n')}`).toBe('done')
    expect(again.sha256).toBe(expectedHash(11, 1))
  }, 150_000)
})

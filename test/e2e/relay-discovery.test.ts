/**
 * Issue 20, item 3: relays found without a list. On loopback: a DHT of three
 * server nodes (no relay among them, one process), `beam relay` processes
 * that are in nobody's bootstrap list (they bootstrap from the DHT and
 * announce themselves under the relay key), and a limited relay (the
 * library's public-network limits, not announced) that the share has as a
 * bootstrap node, as a share on the public network has the limited public
 * relays. The share opens no listener (reachable through relays only, as
 * behind a NAT) and must end up holding the two announced full relays, not
 * the limited one; a connector carries bytes through one (SHA-256); a held
 * relay killed by PID is replaced by a third announced relay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBeam } from 'beam'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { BeamProcess, OFFLINE, tempHome } from '../helpers/beam.ts'
import type { BeamEvent } from '../helpers/beam.ts'
import { DhtSwarms } from '../helpers/dht-swarm.ts'
import { expectedHash, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

const swarms = new DhtSwarms()
let dht: string[] = []
let http: TestHttp
const procs: BeamProcess[] = []
const cleanups: Array<() => Promise<void>> = []

interface Relay { proc: BeamProcess, peerId: string, multiaddr: string }

/**
 * The relay key, built here from its definition (docs/relay.md): it is a
 * protocol constant that relays and shares of every version must agree on.
 */
async function relayKeyAsDocumented (): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('/beam/relay/v1')))
}

/** `beam relay` on loopback, bootstrapping from the DHT node 0; waits for `ready`. */
async function relay (extra: string[] = []): Promise<Relay> {
  const home = await tempHome()
  cleanups.push(home.cleanup)
  const proc = new BeamProcess(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--bootstrap', dht[0] ?? '', '--json', ...extra], { BEAM_HOME: home.dir })
  procs.push(proc)
  const ready = await proc.waitFor('ready', 30_000)
  const peerId = String(ready.peerId)
  return { proc, peerId, multiaddr: String((ready.multiaddrs as string[])[0]) }
}

/** The relays a share's addresses go through (`…/p2p/<relay>/p2p-circuit`). */
function relaysOf (addrs: unknown): string[] {
  const out = new Set<string>()
  for (const a of (addrs as string[] | undefined) ?? []) {
    const m = /\/p2p\/([^/]+)\/p2p-circuit/.exec(a)
    if (m?.[1] != null) out.add(m[1])
  }
  return [...out].sort()
}

/** The share's latest `ready` or `addresses` event. */
function latest (proc: BeamProcess): BeamEvent | undefined {
  return proc.events.findLast(e => e.event === 'ready' || e.event === 'addresses')
}

/** Wait until the share's latest addresses satisfy `pred`. */
async function waitForAddresses (proc: BeamProcess, pred: (relays: string[]) => boolean, timeoutMs: number, what: string): Promise<BeamEvent> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ev = latest(proc)
    if (ev != null && pred(relaysOf(ev.multiaddrs))) return ev
    const left = deadline - Date.now()
    if (left <= 0) throw new Error(`share never ${what}; last addresses: ${JSON.stringify(ev?.multiaddrs)}; stderr:\n${proc.stderr.split('\n').filter(l => /relay/.test(l)).slice(-30).join('\n')}`)
    await proc.waitFor('addresses', Math.min(left, 2000), () => true, proc.events.length).catch(() => {})
  }
}

beforeAll(async () => {
  http = await startHttpService()
  dht = await swarms.start(3)
  expect(dht).toHaveLength(3)
}, 60_000)

afterAll(async () => {
  await Promise.all(procs.map(async p => await p.stop()))
  await swarms.stop()
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  await http?.close()
}, 30_000)

describe('relays found without a list (DHT of 3 nodes on loopback)', () => {
  let full1: Relay
  let full2: Relay
  let limited: Relay

  beforeAll(async () => {
    ;[full1, full2, limited] = await Promise.all([relay(), relay(), relay(['--no-advertise', '--max-bytes', '131072', '--max-duration', '2m'])])
  }, 60_000)

  it('beam relay announces itself under the relay key; --no-advertise does not', async () => {
    await Promise.all([full1.proc.waitFor('advertised', 30_000), full2.proc.waitFor('advertised', 30_000)])
    expect(full1.proc.events.find(e => e.event === 'ready')?.advertised).toBe(true)
    expect(limited.proc.events.find(e => e.event === 'ready')?.advertised).toBe(false)
    // a plain DHT client, knowing only DHT node 2, asks for the providers of the relay key
    const client = await createBeam({ bootstrap: [multiaddr(dht[2] ?? '')], transports: { webrtc: false, quic: false } })
    try {
      await client.waitForDhtPeer(AbortSignal.timeout(15_000))
      const found = new Set<string>()
      for await (const p of client.libp2p.contentRouting.findProviders(await relayKeyAsDocumented(), { signal: AbortSignal.timeout(20_000) })) found.add(p.id.toString())
      expect(found).toContain(full1.peerId)
      expect(found).toContain(full2.peerId)
      expect(found).not.toContain(limited.peerId)
    } finally {
      await client.stop()
    }
  }, 90_000)

  it('a share behind "NAT" holds the two announced full relays (not its limited bootstrap relay), carries bytes through one, and replaces one killed by PID', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    // no listener: reachable only through relays; bootstrap: the DHT nodes and the limited relay, never the full ones
    const share = new BeamProcess(['share', String(http.port), '--public', '--no-listen', ...OFFLINE, '--bootstrap', dht[0] ?? '', '--bootstrap', dht[1] ?? '', '--bootstrap', limited.multiaddr, '--json'], { BEAM_HOME: home.dir })
    procs.push(share)
    await share.waitFor('ready', 40_000)
    const both = [full1.peerId, full2.peerId].sort()
    await waitForAddresses(share, r => r.length === 2 && r.every(id => both.includes(id)), 40_000, 'held both full relays')

    // a connector with the connect string (relayed addresses only), no WebRTC upgrade: the bytes cross a relay
    const ev = latest(share)
    const chome = await tempHome()
    cleanups.push(chome.cleanup)
    const conn = new BeamProcess(['connect', String(ev?.connect), '--no-webrtc', ...OFFLINE, '--json'], { BEAM_HOME: chome.dir })
    procs.push(conn)
    const listening = await conn.waitFor('listening', 40_000)
    // 4 MiB: far past the limited relay's 128 KiB, so it is not that one either
    expect((await httpGet(Number(listening.port), '/download?mib=4&seed=71')).sha256).toBe(expectedHash(71, 4))
    const path = conn.events.find(e => e.event === 'path')
    expect(path?.direct).toBe(false)
    await conn.stop()

    // a third relay is announced; then one held relay dies (SIGKILL by PID)
    const full3 = await relay()
    await full3.proc.waitFor('advertised', 30_000)
    const [victim, survivor] = [full1, full2]
    process.kill(victim.proc.child.pid ?? 0, 'SIGKILL')
    await victim.proc.exited
    const after = await waitForAddresses(share, r => !r.includes(victim.peerId) && r.includes(survivor.peerId) && r.includes(full3.peerId) && r.length === 2, 60_000, 'replaced the killed relay by the third one')
    expect(relaysOf(after.multiaddrs)).not.toContain(limited.peerId)

    // and the new connect string carries bytes again
    const c2home = await tempHome()
    cleanups.push(c2home.cleanup)
    const conn2 = new BeamProcess(['connect', String(after.connect), '--no-webrtc', ...OFFLINE, '--json'], { BEAM_HOME: c2home.dir })
    procs.push(conn2)
    const l2 = await conn2.waitFor('listening', 40_000)
    expect((await httpGet(Number(l2.port), '/download?mib=2&seed=72')).sha256).toBe(expectedHash(72, 2))
    await conn2.stop()
  }, 240_000)
})

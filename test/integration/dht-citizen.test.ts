/**
 * Issue 20, item 6: a good citizen of the DHT. Four DHT servers in another
 * process on loopback (test/helpers/dht-swarm.ts); the share and the
 * connectors are real beam nodes in this process, whose DHT walks are
 * counted where beam asks libp2p for them (content and peer routing):
 * - a connector walks the DHT once per target: the redials of several local
 *   connections after the share went away reuse that walk;
 * - the next run (a new node with the same peers.json) dials the remembered
 *   addresses and walks the DHT zero times; it looks the share up (once) only
 *   when they fail;
 * - a share announces itself again when its addresses change, not when only
 *   its protocols do.
 */
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam, silentLogger } from 'beam'
import type { BeamNode } from 'beam'
import { DhtPresence } from '../../src/peer/discovery/presence.ts'
import { DhtSwarms } from '../helpers/dht-swarm.ts'
import { expectedHash, freePort, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'
import { waitUntil } from '../helpers/wait.ts'

const OFF = { webrtc: false, quic: false }
const swarms = new DhtSwarms()
let dht: string[] = []
let http: TestHttp
let home: string
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  http = await startHttpService()
  home = await mkdtemp(join(tmpdir(), 'beam-dht-citizen-'))
  dht = await swarms.start(4)
  expect(dht).toHaveLength(4)
}, 60_000)

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

afterAll(async () => {
  await swarms.stop()
  await http?.close()
  await rm(home, { recursive: true, force: true })
})

async function node (init: Parameters<typeof createBeam>[0]): Promise<BeamNode> {
  const n = await createBeam({ transports: OFF, iceServers: [], ...init })
  cleanups.push(async () => { await n.stop() })
  return n
}

/** A share on 127.0.0.1:`port` with this key, announced in the DHT through the first server. */
async function share (key: PrivateKey, port: number): Promise<BeamNode> {
  const s = await node({ privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`], bootstrap: [multiaddr(dht[0] ?? '')] })
  await s.share({ services: [{ port: http.port }], access: { mode: 'public' } })
  const published = once(s, 'published')
  s.startPublishing()
  await published
  return s
}

/** DHT walks a node asks libp2p for: provider and peer lookups. */
function countWalks (n: BeamNode): { walks: () => number } {
  let count = 0
  const cr = n.libp2p.contentRouting
  const findProviders = cr.findProviders.bind(cr)
  cr.findProviders = (key, options) => { count++; return findProviders(key, options) }
  const pr = n.libp2p.peerRouting
  const findPeer = pr.findPeer.bind(pr)
  pr.findPeer = async (id, options) => { count++; return await findPeer(id, options) }
  return { walks: () => count }
}

/** A connector that knows only the last DHT server and keeps its addresses in `book`. */
async function connector (book: string): Promise<{ node: BeamNode, walks: () => number, lookups: string[] }> {
  const c = await node({ bootstrap: [multiaddr(dht[3] ?? '')], addressBook: book })
  const lookups: string[] = []
  c.on('lookup', e => { lookups.push(e.state) })
  return { node: c, ...countWalks(c), lookups }
}

async function remembered (book: string, peer: string): Promise<string[]> {
  const data = JSON.parse(await readFile(book, 'utf8')) as { peers: Record<string, { multiaddrs: string[] }> }
  return data.peers[peer]?.multiaddrs ?? []
}

describe('a connector looks a target up once, and remembers it in peers.json', () => {
  it('one walk per target in a run, however many redials; the next run walks zero times; a stale address costs one walk', async () => {
    const key = await generateKeyPair('Ed25519')
    const port = await freePort()
    const book = join(home, 'peers.json')
    const first = await share(key, port)
    const id = first.peerId.toString()

    // run 1: found through the DHT (one walk), remembered
    const run1 = await connector(book)
    const t1 = await run1.node.connect(id, { signal: AbortSignal.timeout(30_000) })
    expect((await httpGet(t1.port, '/download?mib=1&seed=61', 20_000)).sha256).toBe(expectedHash(61, 1))
    expect(run1.walks()).toBe(1)
    expect(await remembered(book, id)).toContain(`/ip4/127.0.0.1/tcp/${port}`)

    // the share goes away: each new local connection redials, every address
    // fails, and the tunnel asks for fresh addresses; that answer is the
    // walk it just made, not a new one per connection
    await first.stop()
    await waitUntil('the connector to see the share gone', () => run1.node.libp2p.getConnections(first.peerId).length === 0, { timeoutMs: 15_000 })
    const redials = await Promise.allSettled([1, 2, 3].map(async () => await httpGet(t1.port, '/download?mib=1&seed=62', 20_000)))
    expect(redials.every(r => r.status === 'rejected' || r.value.sha256 !== expectedHash(62, 1))).toBe(true)
    expect(run1.walks()).toBe(1)
    expect(run1.lookups.filter(s => s === 'started')).toHaveLength(1)
    await t1.close()
    await run1.node.stop()

    // run 2: the share is back at the same address; peers.json has it: no walk
    const second = await share(key, port)
    const run2 = await connector(book)
    const t2 = await run2.node.connect(id, { signal: AbortSignal.timeout(30_000) })
    expect((await httpGet(t2.port, '/download?mib=1&seed=63', 20_000)).sha256).toBe(expectedHash(63, 1))
    expect(run2.walks()).toBe(0)
    expect(run2.lookups).toEqual([])
    await t2.close()
    await run2.node.stop()
    await second.stop()

    // run 3: the share moved; the remembered address fails, one walk finds the new one, which is remembered
    const port3 = await freePort()
    await share(key, port3)
    const run3 = await connector(book)
    const t3 = await run3.node.connect(id, { signal: AbortSignal.timeout(30_000) })
    expect((await httpGet(t3.port, '/download?mib=1&seed=64', 20_000)).sha256).toBe(expectedHash(64, 1))
    expect(run3.walks()).toBe(1)
    expect(await remembered(book, id)).toContain(`/ip4/127.0.0.1/tcp/${port3}`)
    await t3.close()
  }, 120_000)
})

describe('a share announces itself when its addresses change, not when its protocols do', () => {
  it('a new protocol handler is no reason to walk the DHT again; a new address is', async () => {
    const n = await node({ listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [multiaddr(dht[0] ?? '')] })
    const published: number[] = []
    // the node's own schedule, with the gap between address-driven announcements cut for the test
    const presence = new DhtPresence({
      libp2p: n.libp2p,
      log: silentLogger(),
      events: { published: () => { published.push(Date.now()) }, publishFailed: () => {} },
      intervals: { minGap: 200 }
    })
    cleanups.push(async () => { presence.stop() })
    presence.startPublishing()
    await waitUntil('the first announcement', () => published.length >= 1, { timeoutMs: 30_000 })
    // the node's first seconds may change its addresses (and announce them): wait for 3 s without an announcement
    await waitUntil('the announcements of start-up to settle', () => Date.now() - (published.at(-1) ?? 0) > 3000, { timeoutMs: 30_000 })
    const settled = published.length
    // protocols change (a lazily built transport registers its handlers like this)
    await n.libp2p.handle('/beam-test/noop/1.0.0', () => {})
    await new Promise(resolve => setTimeout(resolve, 3000))
    expect(published).toHaveLength(settled)
    // an address of the node changes
    await n.libp2p.peerStore.merge(n.peerId, { multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/9')] })
    await waitUntil('an announcement of the new address', () => published.length === settled + 1, { timeoutMs: 30_000 })
  }, 60_000)
})

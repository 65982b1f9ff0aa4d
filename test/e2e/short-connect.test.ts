/**
 * The short connect string: the share's peer id and secret, no addresses.
 * A DHT of 8 server nodes in 2 processes on loopback; the share knows only
 * node 1, the connector only node 8 and nothing of the share but the short
 * form, which it resolves through the DHT. Real beam processes, bytes hashed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BeamProcess, LOOPBACK_LISTEN, OFFLINE, runBeam, startShare, tempHome } from '../helpers/beam.ts'
import { DhtSwarms } from '../helpers/dht-swarm.ts'
import { expectedHash, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'
import { decodeConnectString } from '../../src/peer/discovery/index.ts'

const swarms = new DhtSwarms()
const dht: string[] = []
const cleanups: Array<() => Promise<void>> = []
let http: TestHttp

beforeAll(async () => {
  http = await startHttpService()
  dht.push(...await swarms.startDht(2, 4, 2000))
  expect(dht.length).toBe(8)
}, 90_000)

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  await swarms.stop()
  await http?.close()
})

describe('the short connect string (peer id and secret, addresses from the DHT)', () => {
  it('a published share prints it beside the full one; a connector with only it finds the share and is admitted', async () => {
    const shareHome = await tempHome()
    cleanups.push(shareHome.cleanup)
    const proc = new BeamProcess(['share', String(http.port), ...LOOPBACK_LISTEN, ...OFFLINE, '--bootstrap', dht[0] ?? '', '--json'], { BEAM_HOME: shareHome.dir })
    cleanups.push(async () => { await proc.stop() })
    const ready = await proc.waitFor('ready', 30_000)
    await proc.waitFor('published', 60_000)
    const short = String(ready.connectShort)
    const full = decodeConnectString(String(ready.connect))
    const decoded = decodeConnectString(short)
    expect(decoded.multiaddrs).toEqual([])
    expect(decoded.peerId.equals(full.peerId)).toBe(true)
    expect(decoded.secret).toEqual(full.secret)
    expect(short.length).toBeLessThan(String(ready.connect).length)

    const connectHome = await tempHome()
    cleanups.push(connectHome.cleanup)
    const c = new BeamProcess(['connect', short, ...OFFLINE, '--bootstrap', dht[7] ?? '', '--json'], { BEAM_HOME: connectHome.dir })
    cleanups.push(async () => { await c.stop() })
    const ev = await c.waitFor('listening', 60_000)
    expect(c.events.some(e => e.event === 'lookup' && e.state === 'found')).toBe(true)
    const got = await httpGet(Number(ev.port), '/download?mib=1&seed=61')
    expect(got.sha256).toBe(expectedHash(61, 1))
  }, 150_000)

  it('a share that is not published (no DHT) offers no short form, and says so by null', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const s = await startShare([String(http.port)], home.dir)
    cleanups.push(async () => { await s.proc.stop() })
    expect(s.ready.connectShort).toBeNull()
    // without a DHT, a short form cannot be resolved: one line, exit 8
    const other = await tempHome()
    cleanups.push(other.cleanup)
    const { encodeConnectString } = await import('../../src/peer/discovery/index.ts')
    const shortForm = encodeConnectString({ ...decodeConnectString(s.connect), multiaddrs: [] })
    const r = await runBeam(['connect', shortForm, ...OFFLINE, '--no-dht'], { BEAM_HOME: other.dir })
    expect(r.code).toBe(8)
    expect(r.stderr.trim().split('\n').filter(l => l.startsWith('beam:'))).toHaveLength(1)
  }, 90_000)
})

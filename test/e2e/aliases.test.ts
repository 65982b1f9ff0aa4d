/**
 * `beam alias`: local petnames for connect strings, offline (no DHT): add,
 * list, remove, and `beam connect <alias>` through a real share on loopback.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BeamProcess, OFFLINE, runBeam, tempHome } from '../helpers/beam.ts'
import { expectedHash, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

const cleanups: Array<() => Promise<void>> = []
let http: TestHttp

beforeAll(async () => { http = await startHttpService() })
afterAll(async () => { await http?.close() })
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

describe('aliases (local petnames, offline)', () => {
  it('beam alias add / list / rm; beam connect <alias> uses the stored connect string', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const shareHome = await tempHome()
    cleanups.push(shareHome.cleanup)
    const proc = new BeamProcess(['share', String(http.port), '--listen', '/ip4/127.0.0.1/tcp/0', ...OFFLINE, '--no-dht', '--json'], { BEAM_HOME: shareHome.dir })
    cleanups.push(async () => { await proc.stop() })
    const ready = await proc.waitFor('ready', 30_000)
    const add = await runBeam(['alias', 'add', 'web', String(ready.connect)], { BEAM_HOME: home.dir })
    expect(add.code).toBe(0)
    const list = await runBeam(['alias', 'list'], { BEAM_HOME: home.dir })
    expect(list.stdout).toMatch(/^web\tbeam/m)
    const c = new BeamProcess(['connect', 'web', ...OFFLINE, '--no-dht', '--json'], { BEAM_HOME: home.dir })
    cleanups.push(async () => { await c.stop() })
    const ev = await c.waitFor('listening', 30_000)
    const got = await httpGet(Number(ev.port), '/download?mib=1&seed=44')
    expect(got.sha256).toBe(expectedHash(44, 1))
    expect((await runBeam(['alias', 'add', 'Bad_Name', String(ready.connect)], { BEAM_HOME: home.dir })).code).toBe(2)
    expect((await runBeam(['alias', 'add', 'x', 'not-a-target'], { BEAM_HOME: home.dir })).code).toBe(4)
    expect((await runBeam(['alias', 'rm', 'web'], { BEAM_HOME: home.dir })).code).toBe(0)
    expect((await runBeam(['alias', 'rm', 'web'], { BEAM_HOME: home.dir })).code).toBe(2)
    const gone = await runBeam(['connect', 'web', ...OFFLINE, '--no-dht'], { BEAM_HOME: home.dir })
    expect(gone.code).toBe(4)
  }, 60_000)
})

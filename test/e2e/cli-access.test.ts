import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import { runBeam, startShare, startConnect, tempHome, OFFLINE } from '../helpers/beam.ts'
import { startHttpService, httpGet, expectedHash } from '../helpers/services.ts'
import { decodeConnectString, encodeConnectString, newAccessSecret } from '../../src/peer/index.ts'

// Access control: private by default (secret), --allow, --public. A refused
// peer gets exit code 10 and no byte reaches the shared service.

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

async function setup (shareArgs: string[] = []): Promise<{ dir: string, http: Awaited<ReturnType<typeof startHttpService>>, share: Awaited<ReturnType<typeof startShare>> }> {
  const home = await tempHome()
  const http = await startHttpService()
  const share = await startShare([String(http.port), ...shareArgs], join(home.dir, 'share'))
  cleanups.push(async () => { await share.proc.stop(); await http.close(); await home.cleanup() })
  return { dir: home.dir, http, share }
}

async function idOf (home: string): Promise<string> {
  const r = await runBeam(['id', '--json'], { BEAM_HOME: home })
  return String((JSON.parse(r.stdout.trim()) as { peerId: string }).peerId)
}

describe('access control', () => {
  it('a private share refuses a bare peer id and a wrong secret; nothing reaches the service', async () => {
    const { dir, http, share } = await setup()
    const bare = await runBeam(['connect', share.peerId, ...OFFLINE, '--json'], { BEAM_HOME: join(dir, 'share') })
    expect(bare.code).toBe(10)
    expect(bare.stderr).toMatch(/access secret/)
    const cs = decodeConnectString(share.connect)
    const wrong = encodeConnectString({ ...cs, secret: newAccessSecret() })
    const w = await runBeam(['connect', wrong, ...OFFLINE, '--json'], { BEAM_HOME: join(dir, 'c1') })
    expect(w.code).toBe(10)
    expect(w.stdout).toMatch(/"event":"error","code":"refused"/)
    const refused = await share.proc.waitFor('refused', 5000, e => String(e.reason).includes('wrong access secret'))
    expect(refused.peerId).toBe(await idOf(join(dir, 'c1')))
    expect(http.accepted()).toBe(0)
  })

  it('--allow admits only the listed peer, authenticated by its key', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const friend = join(home.dir, 'friend')
    const stranger = join(home.dir, 'stranger')
    const { http, share } = await setup(['--allow', await idOf(friend)])
    expect(decodeConnectString(share.connect).secret).toBeUndefined()
    const s = await runBeam(['connect', share.connect, ...OFFLINE], { BEAM_HOME: stranger })
    expect(s.code).toBe(10)
    expect(s.stderr).toMatch(/allow-list/)
    expect(http.accepted()).toBe(0)
    const f = await startConnect(share.connect, [], friend)
    cleanups.push(async () => { await f.proc.stop() })
    const got = await httpGet(f.port, '/download?mib=2&seed=31')
    expect(got.sha256).toBe(expectedHash(31, 2))
  })

  it('--public admits a bare peer id when the address is known (same machine), and says peer-not-found otherwise', async () => {
    const { dir, share } = await setup(['--public'])
    // same BEAM_HOME: the share recorded its addresses; connect falls back to a throwaway identity
    const c = await startConnect(share.peerId, [], join(dir, 'share'))
    cleanups.push(async () => { await c.proc.stop() })
    const got = await httpGet(c.port, '/')
    expect(got.body).toBe('hello')
    const unknown = await runBeam(['connect', share.peerId, ...OFFLINE], { BEAM_HOME: join(dir, 'empty') })
    expect(unknown.code).toBe(8)
  })
})

import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { runBeam, startShare, startConnect, tempHome, OFFLINE, LOOPBACK_LISTEN } from '../helpers/beam.ts'
import type { BeamEvent, BeamProcess } from '../helpers/beam.ts'
import { startHttpService, httpGet, expectedHash } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'
import { decodeConnectString, encodeConnectString } from '../../src/peer/discovery/connect-string.ts'

// Access control of `beam share`, through the real CLI on 127.0.0.1:
// private by default (the secret in the connect string), --allow (peer ids,
// authenticated by the Noise handshake), --public (the peer id is enough).
// A refused connector exits 10 before binding its port, and no byte reaches
// the shared service.

type Share = Awaited<ReturnType<typeof startShare>>

/** Peer id of the identity a beam invocation with these flags/env would use (creates it). */
async function peerIdOf (args: string[], env: Record<string, string>): Promise<string> {
  const r = await runBeam(['id', '--json', ...args], env)
  expect(r.code, r.stderr).toBe(0)
  const ev = JSON.parse(r.stdout.trim()) as { event: string, peerId: string }
  expect(ev.event).toBe('id')
  expect(ev.peerId).toMatch(/^12D3Koo/)
  return ev.peerId
}

/** stderr lines that are not JSON logs. */
function humanLines (stderr: string): string[] {
  return stderr.split('\n').filter(l => l.trim() !== '' && !l.startsWith('{'))
}

function errorEvent (stdout: string): BeamEvent | undefined {
  const events = stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as BeamEvent)
  return events.find(e => e.event === 'error')
}

/** A refused `beam connect`: exit 10, one `beam:` line naming the reason, an `error` event, no port bound. */
function expectRefused (r: { code: number | null, stdout: string, stderr: string }, reason: RegExp): void {
  const what = `stdout: ${r.stdout}\nstderr: ${r.stderr.slice(-2000)}`
  expect(r.code, what).toBe(10)
  const lines = humanLines(r.stderr)
  expect(lines, what).toHaveLength(1)
  expect(lines[0], what).toMatch(/^beam: the share refused the tunnel: /)
  expect(lines[0], what).toMatch(reason)
  expect(r.stderr, what).not.toMatch(/^\s+at /m)
  expect(errorEvent(r.stdout), what).toMatchObject({ event: 'error', code: 'refused' })
  expect(r.stdout, what).not.toMatch(/"event":"listening"/)
}

describe('access control', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  const procs: BeamProcess[] = []
  const services: TestHttp[] = []

  beforeAll(async () => { home = await tempHome() })
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop()
    for (const s of services) await s.close()
    await home?.cleanup()
  })

  async function service (): Promise<TestHttp> {
    const s = await startHttpService()
    services.push(s)
    return s
  }

  async function share (args: string[], dir: string): Promise<Share> {
    const s = await startShare(args, dir)
    procs.push(s.proc)
    return s
  }

  async function connector (target: string, args: string[], dir: string): Promise<{ proc: BeamProcess, port: number }> {
    const c = await startConnect(target, args, dir)
    procs.push(c.proc)
    return c
  }

  describe('secret (the default)', () => {
    let http: TestHttp
    let s: Share
    let shareHome = ''

    beforeAll(async () => {
      http = await service()
      shareHome = join(home.dir, 'secret-share')
      s = await share([String(http.port)], shareHome)
    })

    it('announces access "secret" and a connect string carrying a 32-byte secret', () => {
      expect(s.ready.access).toBe('secret')
      const cs = decodeConnectString(s.connect)
      expect(cs.peerId.toString()).toBe(s.peerId)
      expect(cs.secret?.length).toBe(32)
    })

    it('refuses a bare peer id (exit 10, the message names the secret)', async () => {
      // same BEAM_HOME as the share: the address is known (peers.json) and the
      // connector runs with a throwaway identity, so only the secret is missing
      const from = s.proc.events.length
      const r = await runBeam(['connect', s.peerId, ...OFFLINE, '--json'], { BEAM_HOME: shareHome })
      expectRefused(r, /access secret/)
      expect(r.stderr).toMatch(/bare peer id/)
      const refused = await s.proc.waitFor('refused', 5000, () => true, from)
      expect(String(refused.reason)).toMatch(/access secret/)
      expect(refused.peerId).toMatch(/^12D3Koo/)
      expect(refused.peerId).not.toBe(s.peerId)
    })

    it('refuses a connect string with the right peer id and addresses but another secret (exit 10)', async () => {
      const cs = decodeConnectString(s.connect)
      const wrong = encodeConnectString({ peerId: cs.peerId, multiaddrs: cs.multiaddrs, secret: new Uint8Array(randomBytes(32)) })
      expect(wrong).not.toBe(s.connect)
      const d = decodeConnectString(wrong)
      expect(d.peerId.equals(cs.peerId)).toBe(true)
      expect(d.multiaddrs.map(m => m.toString())).toEqual(cs.multiaddrs.map(m => m.toString()))

      const connHome = join(home.dir, 'wrong-secret-connector')
      const connectorId = await peerIdOf([], { BEAM_HOME: connHome })
      const from = s.proc.events.length
      const r = await runBeam(['connect', wrong, ...OFFLINE, '--json'], { BEAM_HOME: connHome })
      expectRefused(r, /wrong access secret/)
      const refused = await s.proc.waitFor('refused', 5000, e => e.peerId === connectorId, from)
      expect(String(refused.reason)).toMatch(/wrong access secret/)
    })

    it('the shared service accepted no TCP connection from refused peers', () => {
      expect(http.accepted()).toBe(0)
      expect(s.proc.events.some(e => e.event === 'tunnel-open')).toBe(false)
    })
  })

  describe('--allow <peer-id>', () => {
    let http: TestHttp
    let friendIdentity = ''
    let friendId = ''
    let otherId = ''

    beforeAll(async () => {
      http = await service()
      // the connector's identity: a key file passed with --identity
      friendIdentity = join(home.dir, 'friend', 'key.json')
      friendId = await peerIdOf(['--identity', friendIdentity], { BEAM_HOME: join(home.dir, 'friend-home') })
      otherId = await peerIdOf([], { BEAM_HOME: join(home.dir, 'other') })
      expect(otherId).not.toBe(friendId)
    })

    it('a share that allows another peer refuses this one (exit 10), and nothing reaches the service', async () => {
      const s = await share([String(http.port), '--allow', otherId], join(home.dir, 'allow-other-share'))
      expect(s.ready.access).toBe('allow')
      expect(decodeConnectString(s.connect).secret).toBeUndefined()
      const r = await runBeam(['connect', s.connect, '--identity', friendIdentity, ...OFFLINE, '--json'], { BEAM_HOME: join(home.dir, 'friend-home') })
      expectRefused(r, /allow-list/)
      const refused = await s.proc.waitFor('refused', 5000, e => e.peerId === friendId)
      expect(String(refused.reason)).toMatch(/allow-list/)
      expect(http.accepted()).toBe(0)
      await s.proc.stop()
    })

    it('a share that allows this peer (with --allow repeated) accepts it and bytes flow', async () => {
      const s = await share([String(http.port), '--allow', otherId, '--allow', friendId], join(home.dir, 'allow-friend-share'))
      expect(s.ready.access).toBe('allow')
      // with --allow the connect string carries no secret
      const cs = decodeConnectString(s.connect)
      expect(cs.secret).toBeUndefined()
      expect(cs.peerId.toString()).toBe(s.peerId)
      const c = await connector(s.connect, ['--identity', friendIdentity], join(home.dir, 'friend-home'))
      const got = await httpGet(c.port, '/download?mib=2&seed=31', 30_000)
      expect(got.status).toBe(200)
      expect(got.bytes).toBe(2 * 1024 * 1024)
      expect(got.sha256).toBe(expectedHash(31, 2))
      const open = await s.proc.waitFor('tunnel-open', 5000)
      expect(open.peerId).toBe(friendId)
      expect(s.proc.events.some(e => e.event === 'refused')).toBe(false)
      expect(http.accepted()).toBe(1)
    })
  })

  describe('--public', () => {
    let http: TestHttp
    let s: Share
    let shareHome = ''

    beforeAll(async () => {
      http = await service()
      shareHome = join(home.dir, 'public-share')
      s = await share([String(http.port), '--public'], shareHome)
    })

    it('announces access "public"; the connect string carries no secret', () => {
      expect(s.ready.access).toBe('public')
      expect(decodeConnectString(s.connect).secret).toBeUndefined()
    })

    it('a bare peer id works when the connector knows the address (same BEAM_HOME)', async () => {
      const c = await connector(s.peerId, [], shareHome)
      expect(c.proc.stderr).toMatch(/throwaway identity/)
      const got = await httpGet(c.port, '/download?mib=1&seed=77', 30_000)
      expect(got.status).toBe(200)
      expect(got.sha256).toBe(expectedHash(77, 1))
      expect(s.proc.events.some(e => e.event === 'refused')).toBe(false)
      await c.proc.stop()
    })

    it('a bare peer id with an empty BEAM_HOME → exit 8 (peer not found)', async () => {
      const r = await runBeam(['connect', s.peerId, ...OFFLINE, '--json'], { BEAM_HOME: join(home.dir, 'empty') })
      expect(r.code, r.stderr).toBe(8)
      const lines = humanLines(r.stderr)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^beam: no address known for peer 12D3Koo/)
      expect(r.stderr).not.toMatch(/^\s+at /m)
      expect(errorEvent(r.stdout)).toMatchObject({ code: 'peer-not-found' })
    })
  })

  it('--public with --allow → exit 2', async () => {
    const someId = await peerIdOf(['--ephemeral'], { BEAM_HOME: join(home.dir, 'unused') })
    const [a, b] = await Promise.all([
      runBeam(['share', '1', '--public', '--allow', someId, ...LOOPBACK_LISTEN, ...OFFLINE, '--json'], { BEAM_HOME: join(home.dir, 'pa') }),
      runBeam(['share', '1', '--public', '--allow', 'x', ...LOOPBACK_LISTEN, ...OFFLINE, '--json'], { BEAM_HOME: join(home.dir, 'pa') })
    ])
    for (const r of [a, b]) {
      expect(r.code, r.stderr).toBe(2)
      const lines = humanLines(r.stderr)
      expect(lines).toEqual(['beam: --public and --allow exclude each other'])
      expect(errorEvent(r.stdout)).toMatchObject({ code: 'usage' })
      expect(r.stdout).not.toMatch(/"event":"ready"/)
    }
  })
})

import { freePort } from '../helpers/services.ts'
import { copyFile, readFile, readdir, stat } from 'node:fs/promises'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { BeamProcess, runBeam, startShare, startConnect, tempHome, OFFLINE } from '../helpers/beam.ts'
import type { BeamEvent } from '../helpers/beam.ts'
import { startHttpService, startTcpService, httpGet, tcpConnect, readAll, expectedHash } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'
import { fakeOldNode } from '../helpers/old-node.ts'
import { decodeConnectString } from '../../src/peer/discovery/connect-string.ts'

// The life of beam processes through the real CLI on 127.0.0.1: the identity
// on disk, stopping on signals with tunnels open, a share restarting under a
// running connector, a shared service that is down, rotating the secret, no
// reachable bootstrap node, and starting under a Node that is too old.

let home: Awaited<ReturnType<typeof tempHome>>
beforeAll(async () => { home = await tempHome() })
afterAll(async () => { await home?.cleanup() })

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

async function idJson (args: string[], env: Record<string, string> = {}): Promise<{ peerId: string, identity: string | null }> {
  const r = await runBeam(['id', '--json', ...args], env)
  expect(r.code, r.stderr).toBe(0)
  const ev = JSON.parse(r.stdout.trim()) as { event: string, peerId: string, identity: string | null }
  expect(ev.event).toBe('id')
  expect(ev.peerId).toMatch(/^12D3Koo\w+$/)
  return ev
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}

describe('identity (beam id)', () => {
  it('is the same peer id twice with one BEAM_HOME, kept in identity.json with mode 0600', async () => {
    const dir = join(home.dir, 'id-stable')
    const a = await runBeam(['id'], { BEAM_HOME: dir })
    const b = await runBeam(['id'], { BEAM_HOME: dir })
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    expect(a.stdout.trim()).toMatch(/^12D3Koo\w+$/)
    expect(b.stdout).toBe(a.stdout)
    const file = join(dir, 'identity.json')
    // the human form names the file on stderr
    expect(a.stderr).toContain(file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const saved = JSON.parse(await readFile(file, 'utf8')) as { peerId: string }
    expect(saved.peerId).toBe(a.stdout.trim())
    const j = await idJson([], { BEAM_HOME: dir })
    expect(j).toEqual({ event: 'id', peerId: a.stdout.trim(), identity: file, identityKind: 'main', backends: ['direct'] })
  })

  it('--ephemeral gives a new peer id each time and writes no file', async () => {
    const dir = join(home.dir, 'id-ephemeral')
    const [a, b] = await Promise.all([idJson(['--ephemeral'], { BEAM_HOME: dir }), idJson(['--ephemeral'], { BEAM_HOME: dir })])
    expect(a.peerId).not.toBe(b.peerId)
    expect(a.identity).toBeNull()
    expect(b.identity).toBeNull()
    expect(await exists(dir)).toBe(false)
  })

  it('--identity FILE uses that file: creates it once, then reads it back (whatever BEAM_HOME says)', async () => {
    const file = join(home.dir, 'id-custom', 'key.json')
    const first = await idJson(['--identity', file], { BEAM_HOME: join(home.dir, 'id-custom-home-1') })
    expect(first.identity).toBe(file)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ peerId: first.peerId })
    const second = await idJson(['--identity', file], { BEAM_HOME: join(home.dir, 'id-custom-home-2') })
    expect(second.peerId).toBe(first.peerId)
    // BEAM_HOME got no identity of its own
    expect(await exists(join(home.dir, 'id-custom-home-1', 'identity.json'))).toBe(false)
    // an existing key copied from another home is used as is
    const otherHome = join(home.dir, 'id-other')
    const other = await idJson([], { BEAM_HOME: otherHome })
    const copy = join(home.dir, 'id-copy.json')
    await copyFile(join(otherHome, 'identity.json'), copy)
    const fromCopy = await idJson(['--identity', copy], { BEAM_HOME: join(home.dir, 'id-custom-home-1') })
    expect(fromCopy.peerId).toBe(other.peerId)
    expect(fromCopy.peerId).not.toBe(first.peerId)
  })
})

describe('signals', () => {
  let echo: Awaited<ReturnType<typeof startTcpService>>
  beforeAll(async () => {
    // echoes and never closes on its own: the tunnel stays open until beam stops
    echo = await startTcpService(s => { s.pipe(s) })
  })
  afterAll(async () => { await echo?.close() })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`share and connect each exit 0 within 2 s of ${signal}, with a tunnel connection open`, async () => {
      const dir = join(home.dir, `signal-${signal}`)
      const s = await startShare([String(echo.port)], join(dir, 'share'))
      let c: Awaited<ReturnType<typeof startConnect>> | undefined
      let sock: Socket | undefined
      try {
        c = await startConnect(s.connect, [], join(dir, 'connect'))
        sock = await tcpConnect(c.port)
        sock.on('error', () => {})
        const echoed = new Promise<string>(resolve => { sock?.once('data', (d: Buffer) => { resolve(d.toString()) }) })
        sock.write('ping')
        expect(await echoed).toBe('ping')
        await c.proc.waitFor('tunnel-open', 5000)
        await s.proc.waitFor('tunnel-open', 5000)
        expect(s.proc.events.some(e => e.event === 'tunnel-close')).toBe(false)
        const closed = readAll(sock, 10_000)
        // both get the signal while the tunnel is open
        const [rc, rs] = await Promise.all([c.proc.stop(signal), s.proc.stop(signal)])
        expect(rc, c.proc.stderr.slice(-2000)).toMatchObject({ code: 0, signal: null })
        expect(rs, s.proc.stderr.slice(-2000)).toMatchObject({ code: 0, signal: null })
        expect(rc.ms).toBeLessThan(2000)
        expect(rs.ms).toBeLessThan(2000)
        // the local client is let go (closed or reset), not left hanging
        const end = await closed
        expect(end.error?.message).not.toBe('readAll timed out')
      } finally {
        sock?.destroy()
        await c?.proc.stop('SIGKILL')
        await s.proc.stop('SIGKILL')
      }
    })
  }
})

describe('a share restarts under a running connector', () => {
  let http: TestHttp
  let share: BeamProcess | undefined
  let connector: BeamProcess | undefined
  beforeAll(async () => { http = await startHttpService() })
  afterAll(async () => {
    await connector?.stop()
    await share?.stop()
    await http?.close()
  })

  it('keeps its peer id, secret and connect string; the connector reports the outage and serves again', async () => {
    const shareHome = join(home.dir, 'restart-share')
    const port = await freePort()
    const args = ['share', String(http.port), '--listen', `/ip4/127.0.0.1/tcp/${port}`, ...OFFLINE, '--json']
    share = new BeamProcess(args, { BEAM_HOME: shareHome })
    const first = await share.waitFor('ready', 30_000)
    expect(first.multiaddrs).toEqual([`/ip4/127.0.0.1/tcp/${port}`])
    const secretBefore = await readFile(join(shareHome, 'access-secret'))
    const identityBefore = await readFile(join(shareHome, 'identity.json'))
    expect((await stat(join(shareHome, 'access-secret'))).mode & 0o777).toBe(0o600)

    const c = await startConnect(String(first.connect), [], join(home.dir, 'restart-connect'))
    connector = c.proc
    const before = await httpGet(c.port, '/download?mib=1&seed=3', 30_000)
    expect(before.sha256).toBe(expectedHash(3, 1))

    const stopped = await share.stop('SIGTERM')
    expect(stopped.code).toBe(0)
    await connector.waitFor('disconnected', 15_000)
    // a request during the outage may fail; it must not hang or kill the connector
    await httpGet(c.port, '/', 5000).catch(() => {})
    expect(connector.child.exitCode).toBeNull()

    share = new BeamProcess(args, { BEAM_HOME: shareHome })
    const second = await share.waitFor('ready', 30_000)
    const restartedAt = Date.now()
    expect(second.peerId).toBe(first.peerId)
    expect(second.connect).toBe(first.connect)
    expect(decodeConnectString(String(second.connect)).peerId.toString()).toBe(first.peerId)
    expect((await readFile(join(shareHome, 'access-secret'))).equals(secretBefore)).toBe(true)
    expect((await readFile(join(shareHome, 'identity.json'))).equals(identityBefore)).toBe(true)

    let after: Awaited<ReturnType<typeof httpGet>> | undefined
    const errors: string[] = []
    for (let i = 0; i < 30 && after == null; i++) {
      after = await httpGet(c.port, '/download?mib=1&seed=4', 5000).catch((err: Error) => { errors.push(err.message); return undefined })
      if (after == null) await new Promise(resolve => setTimeout(resolve, 500))
    }
    expect(after, `errors: ${errors.join('; ')}\n${connector.stderr.slice(-2000)}`).toBeDefined()
    expect(after?.sha256).toBe(expectedHash(4, 1))
    expect(Date.now() - restartedAt).toBeLessThan(15_000)
    expect(connector.child.exitCode).toBeNull()
  })
})

describe('the shared service is down', () => {
  it('connect still succeeds; a client is closed without data; tunnel-failed and service-unavailable are reported', async () => {
    const dead = await freePort()
    const dir = join(home.dir, 'service-down')
    const s = await startShare([String(dead)], join(dir, 'share'))
    let c: Awaited<ReturnType<typeof startConnect>> | undefined
    try {
      // the probe checks access and the port, not the service
      c = await startConnect(s.connect, [], join(dir, 'connect'))
      const connectorId = (await idJson([], { BEAM_HOME: join(dir, 'connect') })).peerId
      const sock = await tcpConnect(c.port)
      sock.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n')
      const r = await readAll(sock, 15_000)
      expect(r.error?.message).not.toBe('readAll timed out')
      expect(r.data.length).toBe(0)
      const failed: BeamEvent = await c.proc.waitFor('tunnel-failed', 10_000)
      expect(failed.code).toBe('ServiceUnavailableError')
      expect(typeof failed.id).toBe('number')
      // the connector is not told where the service runs; the share's own event says why
      expect(String(failed.message)).toMatch(/^the shared service is unavailable: /)
      for (const detail of [String(dead), '127.0.0.1', 'ECONNREFUSED']) expect(String(failed.message)).not.toContain(detail)
      const down = await s.proc.waitFor('service-unavailable', 10_000)
      expect(down).toMatchObject({ peerId: connectorId, port: dead })
      expect(String(down.reason)).toMatch(new RegExp(`127\\.0\\.0\\.1:${dead} \\(ECONNREFUSED\\)`))
      expect(s.proc.events.some(e => e.event === 'tunnel-open')).toBe(false)
      // the connector carries on
      expect(c.proc.child.exitCode).toBeNull()
    } finally {
      await c?.proc.stop()
      await s.proc.stop()
    }
  })
})

describe('--rotate-secret', () => {
  let share: BeamProcess | undefined
  afterAll(async () => { await share?.stop() })

  it('changes the connect string; the old one is refused (exit 10), the new one works', async () => {
    const http = await startHttpService()
    try {
      const shareHome = join(home.dir, 'rotate-share')
      const port = await freePort()
      const base = ['share', String(http.port), '--listen', `/ip4/127.0.0.1/tcp/${port}`, ...OFFLINE, '--json']
      share = new BeamProcess(base, { BEAM_HOME: shareHome })
      const a = await share.waitFor('ready', 30_000)
      const secretA = await readFile(join(shareHome, 'access-secret'), 'utf8')
      await share.stop()

      share = new BeamProcess([...base, '--rotate-secret'], { BEAM_HOME: shareHome })
      const b = await share.waitFor('ready', 30_000)
      const secretB = await readFile(join(shareHome, 'access-secret'), 'utf8')
      expect(b.peerId).toBe(a.peerId)
      expect(b.connect).not.toBe(a.connect)
      expect(secretB).not.toBe(secretA)
      expect(secretB.trim()).toMatch(/^[0-9a-f]{64}$/)
      expect((await stat(join(shareHome, 'access-secret'))).mode & 0o777).toBe(0o600)
      const old = decodeConnectString(String(a.connect))
      const now = decodeConnectString(String(b.connect))
      expect(now.multiaddrs.map(m => m.toString())).toEqual(old.multiaddrs.map(m => m.toString()))
      expect(Buffer.from(now.secret ?? []).toString('hex')).toBe(secretB.trim())

      const connHome = join(home.dir, 'rotate-connect')
      const r = await runBeam(['connect', String(a.connect), ...OFFLINE, '--json'], { BEAM_HOME: connHome })
      expect(r.code, r.stderr.slice(-2000)).toBe(10)
      expect(r.stderr).toMatch(/^beam: the share refused the tunnel: wrong access secret/m)
      await share.waitFor('refused', 5000)

      const c = await startConnect(String(b.connect), [], connHome)
      try {
        expect((await httpGet(c.port, '/', 10_000)).body).toBe('hello')
      } finally {
        await c.proc.stop()
      }
      expect(http.accepted()).toBe(1)
      // rotation replaced the file in place: no stray temp or backup file keeps the old secret
      expect((await readdir(shareHome)).filter(f => f.includes('secret'))).toEqual(['access-secret'])
    } finally {
      await http.close()
    }
  })
})

describe('without a reachable bootstrap node', () => {
  it('share and connect on the same machine still work, and the share does not hang waiting for a relay', async () => {
    const home = await tempHome()
    const http = await startHttpService()
    cleanups.push(async () => { await http.close(); await home.cleanup() })
    const dead = `/ip4/127.0.0.1/tcp/${await freePort()}/p2p/12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4`
    const started = Date.now()
    const s = new BeamProcess(['share', String(http.port), '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', dead, '--json'], { BEAM_HOME: join(home.dir, 's') })
    cleanups.push(async () => { await s.stop() })
    const ready = await s.waitFor('ready', 20_000)
    expect(Date.now() - started).toBeLessThan(8000)
    expect(s.stderr).toMatch(/bootstrap node unreachable/)
    const c = await startConnect(String(ready.connect), ['--bootstrap', dead], join(home.dir, 'c'))
    cleanups.push(async () => { await c.proc.stop() })
    expect((await httpGet(c.port, '/')).body).toBe('hello')
  })
})

describe('runtime check', () => {
  it('an older Node re-runs beam with the bundled Node, or says what is needed', async () => {
    const { execFile } = await import('node:child_process')
    const { existsSync, mkdtempSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    // a real old Node when the machine has one (it also proves that the
    // launcher parses there); else this Node, reporting v20 to the launcher
    const system = '/usr/bin/node'
    const version = existsSync(system) ? await new Promise<string>(resolve => execFile(system, ['--version'], (_e, out) => { resolve(out.trim()) })) : ''
    const fakeDir = mkdtempSync(join(tmpdir(), 'beam-old-node-'))
    cleanups.push(async () => { rmSync(fakeDir, { recursive: true, force: true }) })
    const old = /^v(1\d|2[01])\./.test(version) ? system : fakeOldNode(fakeDir)
    console.log(`runtime check with ${old === system ? `the system's Node ${version}` : 'a fake Node reporting v20.11.1'}`)
    const bin = new URL('../../bin/beam.js', import.meta.url).pathname
    const run = async (env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> => await new Promise(resolve => {
      execFile(old, [bin, 'id', '--ephemeral'], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err == null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr })
      })
    })
    const ok = await run({})
    expect(ok.code).toBe(0)
    expect(ok.stdout.trim()).toMatch(/^12D3Koo/)
    const refused = await run({ BEAM_REEXEC: '1' })
    expect(refused.code).toBe(69)
    expect(refused.stderr).toMatch(/needs Node\.js >= 22/)
  })
})

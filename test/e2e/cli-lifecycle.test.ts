import { freePort } from '../helpers/services.ts'
import { readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import { BeamProcess, runBeam, startShare, startConnect, tempHome, OFFLINE } from '../helpers/beam.ts'
import { startHttpService, httpGet, tcpConnect, readAll } from '../helpers/services.ts'
import { fakeOldNode } from '../helpers/old-node.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })


describe('identity', () => {
  it('is stable per BEAM_HOME, 0600, and --ephemeral / --identity behave', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const a = await runBeam(['id'], { BEAM_HOME: home.dir })
    const b = await runBeam(['id'], { BEAM_HOME: home.dir })
    expect(a.code).toBe(0)
    expect(a.stdout.trim()).toMatch(/^12D3Koo\w+$/)
    expect(b.stdout).toBe(a.stdout)
    expect(a.stderr).toContain(join(home.dir, 'identity.json'))
    expect((await stat(join(home.dir, 'identity.json'))).mode & 0o777).toBe(0o600)
    const e1 = await runBeam(['id', '--ephemeral'], { BEAM_HOME: join(home.dir, 'eph') })
    const e2 = await runBeam(['id', '--ephemeral'], { BEAM_HOME: join(home.dir, 'eph') })
    expect(e1.stdout).not.toBe(e2.stdout)
    await expect(stat(join(home.dir, 'eph'))).rejects.toThrow()
    const custom = join(home.dir, 'custom.json')
    const c1 = await runBeam(['id', '--identity', custom, '--json'])
    expect(JSON.parse(c1.stdout)).toMatchObject({ event: 'id', identity: custom })
    expect(JSON.parse(await readFile(custom, 'utf8'))).toMatchObject({ peerId: JSON.parse(c1.stdout).peerId })
  })
})

describe('lifecycle', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`share and connect exit 0 within 2 s of ${signal}, with a tunnel open`, async () => {
      const home = await tempHome()
      const http = await startHttpService()
      cleanups.push(async () => { await http.close(); await home.cleanup() })
      const s = await startShare([String(http.port)], join(home.dir, 's'))
      const c = await startConnect(s.connect, [], join(home.dir, 'c'))
      cleanups.push(async () => { await c.proc.stop('SIGKILL'); await s.proc.stop('SIGKILL') })
      const sock = await tcpConnect(c.port)
      sock.on('error', () => {})
      sock.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n')
      await c.proc.waitFor('tunnel-open', 5000)
      const rc = await c.proc.stop(signal)
      const rs = await s.proc.stop(signal)
      expect(rc).toMatchObject({ code: 0 })
      expect(rs).toMatchObject({ code: 0 })
      expect(rc.ms).toBeLessThan(2000)
      expect(rs.ms).toBeLessThan(2000)
      sock.destroy()
    })
  }

  it('a restarted share keeps its peer id and secret; the running connector reconnects', async () => {
    const home = await tempHome()
    const http = await startHttpService()
    cleanups.push(async () => { await http.close(); await home.cleanup() })
    const port = await freePort()
    const listen = ['--listen', `/ip4/127.0.0.1/tcp/${port}`]
    const shareHome = join(home.dir, 's')
    const args = ['share', String(http.port), ...listen, ...OFFLINE, '--json']
    let share = new BeamProcess(args, { BEAM_HOME: shareHome })
    const first = await share.waitFor('ready')
    const secretBefore = await readFile(join(shareHome, 'access-secret'), 'utf8')
    const c = await startConnect(String(first.connect), [], join(home.dir, 'c'))
    cleanups.push(async () => { await c.proc.stop(); await share.stop() })
    expect((await httpGet(c.port, '/')).body).toBe('hello')

    await share.stop('SIGTERM')
    await c.proc.waitFor('disconnected', 15_000)
    share = new BeamProcess(args, { BEAM_HOME: shareHome })
    const second = await share.waitFor('ready')
    expect(second.peerId).toBe(first.peerId)
    expect(second.connect).toBe(first.connect)
    expect(await readFile(join(shareHome, 'access-secret'), 'utf8')).toBe(secretBefore)

    let body = ''
    for (let i = 0; i < 30 && body !== 'hello'; i++) {
      body = await httpGet(c.port, '/', 5000).then(r => r.body, () => '')
      if (body !== 'hello') await new Promise(resolve => setTimeout(resolve, 500))
    }
    expect(body).toBe('hello')
  })

  it('the shared service down: the client is closed without data, both sides report it', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const dead = await freePort()
    const s = await startShare([String(dead)], join(home.dir, 's'))
    const c = await startConnect(s.connect, [], join(home.dir, 'c'))
    cleanups.push(async () => { await c.proc.stop(); await s.proc.stop() })
    const sock = await tcpConnect(c.port)
    sock.write('hello?')
    const r = await readAll(sock, 10_000)
    expect(r.data.length).toBe(0)
    const failed = await c.proc.waitFor('tunnel-failed', 5000)
    expect(failed.code).toBe('ServiceUnavailableError')
    // the connector is not told where the service runs; the share's own event says why
    expect(String(failed.message)).toMatch(/^the shared service is unavailable: /)
    for (const detail of [String(dead), '127.0.0.1', 'ECONNREFUSED']) expect(String(failed.message)).not.toContain(detail)
    const down = await s.proc.waitFor('service-unavailable', 5000)
    expect(String(down.reason)).toMatch(new RegExp(`127\\.0\\.0\\.1:${dead} \\(ECONNREFUSED\\)`))
  })

  it('--rotate-secret issues a new connect string; the old one is refused', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const shareHome = join(home.dir, 's')
    const listen = ['--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`]
    const a = await startShare(['1', ...listen], shareHome)
    await a.proc.stop()
    const b = await startShare(['1', '--rotate-secret', ...listen], shareHome)
    cleanups.push(async () => { await b.proc.stop() })
    expect(b.peerId).toBe(a.peerId)
    expect(b.connect).not.toBe(a.connect)
    const old = await runBeam(['connect', a.connect, ...OFFLINE], { BEAM_HOME: join(home.dir, 'c') })
    expect(old.code).toBe(10)
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

/**
 * `beam export NAME` / `beam import FILE` / `beam migrate NAME --backends`:
 * a named tunnel moves to another BEAM_HOME (another machine) with its
 * identity and access secret, sealed with a passphrase; it then runs there as
 * the same peer id with the same secret, and the connector reaches it. Real
 * beam processes on loopback.
 */
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BeamProcess, OFFLINE, runBeam, startConnect, tempHome } from '../helpers/beam.ts'
import { expectedHash, httpGet, startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'
import { decodeConnectString, encodeConnectString } from '../../src/peer/discovery/index.ts'

const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0']
const cleanups: Array<() => Promise<void>> = []
let http: TestHttp
let a: Awaited<ReturnType<typeof tempHome>>
let b: Awaited<ReturnType<typeof tempHome>>
let first: { peerId: string, connect: string }

async function up (home: string, name: string): Promise<{ proc: BeamProcess, peerId: string, connect: string }> {
  const proc = new BeamProcess(['up', name, ...LISTEN, ...OFFLINE, '--json'], { BEAM_HOME: home })
  cleanups.push(async () => { await proc.stop() })
  const ready = await proc.waitFor('ready', 30_000)
  return { proc, peerId: String(ready.peerId), connect: String(ready.connect) }
}

beforeAll(async () => {
  http = await startHttpService()
  a = await tempHome()
  b = await tempHome()
  await writeFile(join(a.dir, 'beam.config.yaml'), `# my tunnels\ntunnels:\n  web:   # the web app\n    port: ${http.port}\n`)
  await writeFile(join(a.dir, 'pass'), 'correct horse battery staple\n')
  // the first start makes the identity and the access secret
  const s = await up(a.dir, 'web')
  first = { peerId: s.peerId, connect: s.connect }
  await s.proc.stop()
}, 60_000)

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  await http?.close()
  await a?.cleanup()
  await b?.cleanup()
})

describe('beam export / beam import', () => {
  let file = ''

  it('exports the tunnel sealed: mode 0600, neither key nor secret readable in it', async () => {
    file = join(a.dir, 'web.beam-tunnel')
    const r = await runBeam(['export', 'web', '-o', file, '--passphrase-file', join(a.dir, 'pass'), '--json'], { BEAM_HOME: a.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ event: 'exported', name: 'web', peerId: first.peerId, secret: true })
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const text = await readFile(file, 'utf8')
    const identity = JSON.parse(await readFile(join(a.dir, 'identity.json'), 'utf8')) as { privateKey: string }
    const secret = (await readFile(join(a.dir, 'access-secret'), 'utf8')).trim()
    expect(text).not.toContain(identity.privateKey.slice(0, 40))
    expect(text).not.toContain(secret)
    expect(text).not.toContain(first.peerId)
    // never overwritten
    const again = await runBeam(['export', 'web', '-o', file, '--passphrase-file', join(a.dir, 'pass')], { BEAM_HOME: a.dir })
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/exists already/)
  }, 60_000)

  it('imports it elsewhere: beam up runs as the same peer id with the same secret, and a connector gets through', async () => {
    const r = await runBeam(['import', file, '--passphrase-file', join(a.dir, 'pass')], { BEAM_HOME: b.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('beam up web')
    const keyDir = join(b.dir, 'tunnels', 'web')
    expect((await stat(keyDir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(keyDir, 'identity.json'))).mode & 0o777).toBe(0o600)
    const s = await up(b.dir, 'web')
    expect(s.peerId).toBe(first.peerId)
    const moved = decodeConnectString(s.connect)
    const old = decodeConnectString(first.connect)
    expect(moved.secret).toEqual(old.secret)
    // the connect string handed out on the first machine, with the new machine's addresses: still admitted
    const oldSecretHere = encodeConnectString({ ...old, multiaddrs: moved.multiaddrs })
    const c = await startConnect(oldSecretHere, [], (await tempHome().then(h => { cleanups.push(h.cleanup); return h })).dir)
    cleanups.push(async () => { await c.proc.stop() })
    const got = await httpGet(c.port, '/download?mib=1&seed=81')
    expect(got.sha256).toBe(expectedHash(81, 1))
    await s.proc.stop()
  }, 90_000)

  it('bad input gets one line and its exit code', async () => {
    const one = (r: { stderr: string }): void => { expect(r.stderr.trim().split('\n').filter(l => l.startsWith('beam:'))).toHaveLength(1) }
    await writeFile(join(b.dir, 'wrong'), 'not the passphrase\n')
    const wrong = await runBeam(['import', file, '--passphrase-file', join(b.dir, 'wrong'), '--as', 'web2'], { BEAM_HOME: b.dir })
    expect(wrong.code).toBe(6)
    expect(wrong.stderr).toMatch(/wrong passphrase/)
    one(wrong)
    const tampered = join(b.dir, 'tampered')
    const sealed = JSON.parse(await readFile(file, 'utf8')) as { data: string }
    sealed.data = (sealed.data.startsWith('A') ? 'B' : 'A') + sealed.data.slice(1)
    await writeFile(tampered, JSON.stringify(sealed))
    const t = await runBeam(['import', tampered, '--as', 'web3'], { BEAM_HOME: b.dir, BEAM_PASSPHRASE: 'correct horse battery staple' })
    expect(t.code).toBe(6)
    one(t)
    const notExport = await runBeam(['import', join(a.dir, 'beam.config.yaml'), '--as', 'web4'], { BEAM_HOME: b.dir, BEAM_PASSPHRASE: 'x' })
    expect(notExport.code).toBe(6)
    expect(notExport.stderr).toMatch(/not a beam export file/)
    const twice = await runBeam(['import', file, '--passphrase-file', join(a.dir, 'pass')], { BEAM_HOME: b.dir })
    expect(twice.code).toBe(2)
    expect(twice.stderr).toMatch(/has an entry named web already/)
    one(twice)
    const none = await runBeam(['import', file], { BEAM_HOME: b.dir })
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/no passphrase/)
    await writeFile(join(a.dir, 'short'), 'short\n')
    const short = await runBeam(['export', 'web', '-o', join(a.dir, 'x'), '--passphrase-file', join(a.dir, 'short')], { BEAM_HOME: a.dir })
    expect(short.code).toBe(2)
    expect(short.stderr).toMatch(/too short/)
    const unknown = await runBeam(['export', 'nope', '--passphrase-file', join(a.dir, 'pass')], { BEAM_HOME: a.dir })
    expect(unknown.code).toBe(7)
    expect(unknown.stderr).toMatch(/no tunnel named 'nope'/)
    // the config file of the importing side is untouched by the failures
    expect((await readFile(join(b.dir, 'beam.config.yaml'), 'utf8')).match(/^ {2}[\w-]+:/gm)).toEqual(['  web:'])
  }, 90_000)
})

describe('beam migrate', () => {
  it('rewrites the networks in place (comments kept), says when the peer id changes, refuses unknown networks', async () => {
    const cfg = join(a.dir, 'beam.config.yaml')
    const both = await runBeam(['migrate', 'web', '--backends', 'tor,direct', '--json'], { BEAM_HOME: a.dir })
    expect(both.code, both.stderr).toBe(0)
    expect(JSON.parse(both.stdout.trim())).toMatchObject({ event: 'migrated', from: ['direct'], to: ['tor', 'direct'], peerIdChanges: false, peerIdBefore: first.peerId })
    const text = await readFile(cfg, 'utf8')
    expect(text).toContain('# my tunnels')
    expect(text).toContain('# the web app')
    expect(text).toMatch(/backends:\n\s+- tor\n\s+- direct/)
    const tor = await runBeam(['migrate', 'web', '--backends', 'tor', '--json'], { BEAM_HOME: a.dir })
    expect(tor.code, tor.stderr).toBe(0)
    expect(JSON.parse(tor.stdout.trim())).toMatchObject({ to: ['tor'], peerIdChanges: true, identity: join(a.dir, 'identity-tor.json') })
    expect(tor.stderr).toMatch(/connect strings handed out before stop working/)
    const before = await readFile(cfg, 'utf8')
    const bad = await runBeam(['migrate', 'web', '--backends', 'tor,carrier-pigeon'], { BEAM_HOME: a.dir })
    expect(bad.code).toBe(7)
    expect(bad.stderr).toMatch(/carrier-pigeon/)
    expect(await readFile(cfg, 'utf8')).toBe(before)
    const missing = await runBeam(['migrate', 'nope', '--backends', 'direct'], { BEAM_HOME: a.dir })
    expect(missing.code).toBe(7)
    const empty = await runBeam(['migrate', 'web', '--backends', ','], { BEAM_HOME: a.dir })
    expect(empty.code).toBe(2)
  }, 60_000)
})

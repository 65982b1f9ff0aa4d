import { createServer } from 'node:net'
import type { Server } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { BeamProcess, runBeam, startConnect, tempHome, OFFLINE } from '../helpers/beam.ts'
import { startHttpService, httpGet, expectedHash, freePort } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'
import { decodeConnectString, encodeConnectString } from '../../src/peer/discovery/connect-string.ts'

// Restarts through the real CLI: a share started with its default listen
// addresses comes back on the ports it had (listen-ports.json in BEAM_HOME),
// and says so when one is taken; a running connector finds a share killed
// with SIGKILL again by itself; a new connector with a stale connect string
// says what it tried and keeps redialling while it waits.
//
// The share listens on its defaults (every interface), but connectors are
// handed connect strings cut down to the loopback addresses: no test byte
// goes to another address of this machine.

let home: Awaited<ReturnType<typeof tempHome>>
let http: TestHttp
beforeAll(async () => { home = await tempHome(); http = await startHttpService() })
afterAll(async () => { await http?.close(); await home?.cleanup() })

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

/** `beam share <http> --json` with its default listen addresses. */
function share (dir: string, extra: string[] = []): BeamProcess {
  const p = new BeamProcess(['share', String(http.port), ...extra, ...OFFLINE, '--json'], { BEAM_HOME: dir })
  cleanups.push(async () => { await p.stop('SIGKILL') })
  return p
}

/** The connect string with only its loopback addresses. */
function loopbackOnly (connect: string): string {
  const cs = decodeConnectString(connect)
  const multiaddrs = cs.multiaddrs.filter(ma => /^\/ip4\/127\.0\.0\.1\/|^\/ip6\/::1\//.test(ma.toString()))
  expect(multiaddrs.length).toBeGreaterThan(0)
  return encodeConnectString({ ...cs, multiaddrs })
}

/** The ip4 TCP port of a share's `ready` multiaddrs. */
function tcp4Port (multiaddrs: unknown): number {
  const hit = (multiaddrs as string[]).map(m => /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)$/.exec(m)).find(m => m != null)
  expect(hit).toBeDefined()
  return Number(hit?.[1])
}

async function listenOn (port: number, host: string): Promise<Server> {
  const s = createServer()
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen({ port, host, exclusive: true }, resolve) })
  return s
}

describe('a share with its default listen addresses restarts on the ports it had', () => {
  it('SIGKILL, restart: same addresses and connect string; the running connector finds it by itself; bytes intact', async () => {
    const shareHome = join(home.dir, 'same-ports')
    let s = share(shareHome)
    const first = await s.waitFor('ready', 30_000)

    const c = await startConnect(loopbackOnly(String(first.connect)), [], join(home.dir, 'same-ports-connect'))
    cleanups.push(async () => { await c.proc.stop('SIGKILL') })
    expect((await httpGet(c.port, '/download?mib=2&seed=71', 30_000)).sha256).toBe(expectedHash(71, 2))

    await s.stop('SIGKILL')
    await c.proc.waitFor('disconnected', 15_000)
    const mark = c.proc.events.length

    s = share(shareHome)
    const second = await s.waitFor('ready', 30_000)
    const readyAt = Date.now()
    expect(second.peerId).toBe(first.peerId)
    expect(second.multiaddrs).toEqual(first.multiaddrs)
    expect(second.connect).toBe(first.connect)

    // no local client asks: the connector redials by itself and has a path again
    await c.proc.waitFor('path', 25_000, () => true, mark)
    expect(Date.now() - readyAt).toBeLessThan(25_000)
    expect((await httpGet(c.port, '/download?mib=2&seed=72', 30_000)).sha256).toBe(expectedHash(72, 2))
    expect(c.proc.child.exitCode).toBeNull()
    // where the ports are kept, and that none moved
    expect(first.listenMoved).toEqual([])
    expect(second.listenMoved).toEqual([])
    const remembered = JSON.parse(await readFile(join(shareHome, 'listen-ports.json'), 'utf8')) as { peers: Record<string, { ports: Record<string, number> }> }
    expect(remembered.peers[String(first.peerId)]?.ports['/ip4/0.0.0.0/tcp/0']).toBe(tcp4Port(first.multiaddrs))
  }, 150_000)

  it('a remembered port that another socket holds is replaced, and the share says it moved (log line, banner, listenMoved)', async () => {
    const shareHome = join(home.dir, 'moved')
    const s1 = share(shareHome)
    const first = await s1.waitFor('ready', 30_000)
    const port = tcp4Port(first.multiaddrs)
    expect((await s1.stop('SIGTERM')).code).toBe(0)

    const squatter = await listenOn(port, '0.0.0.0')
    cleanups.push(async () => { await new Promise<void>(resolve => { squatter.close(() => { resolve() }) }) })
    const s2 = share(shareHome)
    const second = await s2.waitFor('ready', 30_000)
    const moved = second.listenMoved as Array<{ was: string, now: string, reason: string }>
    expect(moved).toHaveLength(1)
    expect(moved[0]?.was).toBe(`/ip4/0.0.0.0/tcp/${port}`)
    expect(moved[0]?.now).toMatch(/^\/ip4\/0\.0\.0\.0\/tcp\/\d+$/)
    expect(moved[0]?.now).not.toBe(moved[0]?.was)
    expect(moved[0]?.reason).toBe('address in use')
    expect(tcp4Port(second.multiaddrs)).not.toBe(port)
    // the other addresses kept their ports
    const others = (m: unknown): string[] => (m as string[]).filter(a => !a.startsWith('/ip4/') || !a.includes('/tcp/'))
    expect(others(second.multiaddrs)).toEqual(others(first.multiaddrs))
    expect(s2.stderr).toContain(`instead of /ip4/0.0.0.0/tcp/${port} (address in use)`)
    // and the new port is what the next start asks for
    const saved = JSON.parse(await readFile(join(shareHome, 'listen-ports.json'), 'utf8')) as { peers: Record<string, { ports: Record<string, number> }> }
    expect(saved.peers[String(first.peerId)]?.ports['/ip4/0.0.0.0/tcp/0']).toBe(tcp4Port(second.multiaddrs))
  }, 90_000)

  it('--ephemeral and an explicit --listen keep their meaning: no port is remembered', async () => {
    const dir = join(home.dir, 'explicit')
    const s1 = share(dir, ['--listen', '/ip4/127.0.0.1/tcp/0'])
    await s1.waitFor('ready', 30_000)
    await s1.stop('SIGTERM')
    const s2 = share(dir, ['--ephemeral'])
    await s2.waitFor('ready', 30_000)
    await s2.stop('SIGTERM')
    await expect(readFile(join(dir, 'listen-ports.json'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
  }, 90_000)
})

describe('a new connector with a stale connect string', () => {
  it('says what it tried and what each answered, and that no DHT is configured (exit 9)', async () => {
    const dir = join(home.dir, 'stale')
    const port = await freePort()
    const s = new BeamProcess(['share', String(http.port), '--listen', `/ip4/127.0.0.1/tcp/${port}`, ...OFFLINE, '--json'], { BEAM_HOME: join(dir, 'share') })
    cleanups.push(async () => { await s.stop('SIGKILL') })
    const ready = await s.waitFor('ready', 30_000)
    await s.stop('SIGKILL')
    const started = Date.now()
    const r = await runBeam(['connect', String(ready.connect), '--timeout', '4000', ...OFFLINE], { BEAM_HOME: join(dir, 'connect') }, 30_000)
    expect(r.code, r.stderr).toBe(9)
    const line = r.stderr.trim().split('\n').at(-1) ?? ''
    expect(line).toContain(`tcp 127.0.0.1:${port}: connection refused`)
    expect(line).toContain('no DHT configured')
    expect(line).not.toContain('no answer within')
    // it kept redialling for the whole wait, and never pretended to look the peer up
    expect(line).toMatch(/tried [2-9]\d* time\(s\)/)
    expect(r.stderr).not.toMatch(/looking up \S+ in the DHT/)
    expect(Date.now() - started).toBeLessThan(15_000)
  }, 60_000)

  it('keeps redialling the known addresses during the wait: a share that comes back on its port is reached', async () => {
    const dir = join(home.dir, 'comes-back')
    const port = await freePort()
    const args = ['share', String(http.port), '--listen', `/ip4/127.0.0.1/tcp/${port}`, ...OFFLINE, '--json']
    const s1 = new BeamProcess(args, { BEAM_HOME: join(dir, 'share') })
    cleanups.push(async () => { await s1.stop('SIGKILL') })
    const ready = await s1.waitFor('ready', 30_000)
    await s1.stop('SIGKILL')

    const c = new BeamProcess(['connect', String(ready.connect), '--timeout', '40000', ...OFFLINE, '--json'], { BEAM_HOME: join(dir, 'connect') })
    cleanups.push(async () => { await c.stop('SIGKILL') })
    // the first dial has failed before the share is back
    const deadline = Date.now() + 20_000
    while (!/ECONNREFUSED|connection refused/.test(c.stderr) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 200))
    expect(c.stderr).toMatch(/ECONNREFUSED|connection refused/)
    const s2 = new BeamProcess(args, { BEAM_HOME: join(dir, 'share') })
    cleanups.push(async () => { await s2.stop('SIGKILL') })
    await s2.waitFor('ready', 30_000)
    const listening = await c.waitFor('listening', 40_000)
    expect((await httpGet(Number(listening.port), '/download?mib=1&seed=73', 30_000)).sha256).toBe(expectedHash(73, 1))
  }, 120_000)
})

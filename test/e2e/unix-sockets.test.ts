/**
 * Unix sockets on both sides: `beam share unix:PATH` carries tunnels to a
 * service on a unix socket; `beam connect … --listen unix:PATH` listens on
 * one (mode 0600, a stale file replaced, a live one or a plain file refused,
 * removed on exit). Real beam processes on loopback, real sockets in a
 * temporary directory.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { lstat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BeamProcess, OFFLINE, runBeam, startShare, tempHome } from '../helpers/beam.ts'
import { waitUntil } from '../helpers/wait.ts'

/** Answers "<bytes> <sha256>\n" after the client's EOF. */
function hashService (s: Socket): void {
  const h = createHash('sha256')
  let n = 0
  s.on('data', (c: Buffer) => { h.update(c); n += c.length })
  s.on('end', () => { s.end(`${n} ${h.digest('hex')}\n`) })
  s.on('error', () => {})
}

/** Send `data` to the unix socket at `path`, half-close, read the answer to the end. */
async function exchange (path: string, data: Buffer): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const s = createConnection({ path, allowHalfOpen: true })
    let out = ''
    s.setEncoding('utf8').on('data', (c: string) => { out += c })
    s.on('end', () => { s.end(); resolve(out) })
    s.on('error', reject)
    s.end(data)
  })
}

async function exists (path: string): Promise<boolean> {
  return await lstat(path).then(() => true, () => false)
}

describe('unix sockets on both sides', () => {
  let dir: Awaited<ReturnType<typeof tempHome>>
  let shareHome: Awaited<ReturnType<typeof tempHome>>
  let connectHome: Awaited<ReturnType<typeof tempHome>>
  let service: Server
  let share: BeamProcess
  let connect = ''
  let servicePath = ''

  beforeAll(async () => {
    dir = await tempHome()
    shareHome = await tempHome()
    connectHome = await tempHome()
    servicePath = join(dir.dir, 'app.sock')
    service = createServer({ allowHalfOpen: true }, hashService)
    await new Promise<void>(resolve => service.listen(servicePath, resolve))
    const s = await startShare([`unix:${servicePath}`], shareHome.dir)
    share = s.proc
    connect = s.connect
  }, 60_000)

  afterAll(async () => {
    await share?.stop()
    await new Promise<void>(resolve => { if (service != null) service.close(() => { resolve() }); else resolve() })
    await dir?.cleanup()
    await shareHome?.cleanup()
    await connectHome?.cleanup()
  })

  it('shares a unix socket service (offered as port 1) and listens on a unix socket of mode 0600, removed on exit', async () => {
    const ready = share.events.find(e => e.event === 'ready')
    expect(ready?.services).toEqual([{ host: null, port: 1, path: servicePath, address: `unix:${servicePath}` }])
    expect(ready?.ports).toEqual([1])
    const local = join(dir.dir, 'local.sock')
    const c = new BeamProcess(['connect', connect, '--listen', `unix:${local}`, ...OFFLINE, '--json'], { BEAM_HOME: connectHome.dir })
    try {
      const ev = await c.waitFor('listening', 40_000)
      expect(ev.path).toBe(local)
      expect(ev.port).toBeNull()
      const st = await lstat(local)
      expect(st.isSocket()).toBe(true)
      expect(st.mode & 0o777).toBe(0o600)
      const data = randomBytes(1024 * 1024 + 3)
      const answers = await Promise.all([0, 1, 2].map(async () => await exchange(local, data)))
      for (const a of answers) expect(a).toBe(`${data.length} ${createHash('sha256').update(data).digest('hex')}\n`)
      // the share's events name the socket, not a host
      const open = share.events.find(e => e.event === 'tunnel-open')
      expect(open).toMatchObject({ host: null, port: 1, path: servicePath })
    } finally {
      const r = await c.stop()
      expect(r.code).toBe(0)
    }
    expect(await exists(local)).toBe(false)
  }, 90_000)

  it('replaces a stale socket file nobody listens on', async () => {
    const local = join(dir.dir, 'stale.sock')
    // a process that listens and is killed leaves its socket file behind
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(local)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] })
    await new Promise<void>(resolve => { holder.stdout.once('data', () => { resolve() }) })
    holder.kill('SIGKILL')
    await new Promise<void>(resolve => { holder.once('exit', () => { resolve() }) })
    expect((await lstat(local)).isSocket()).toBe(true)
    const c = new BeamProcess(['connect', connect, '--listen', `unix:${local}`, ...OFFLINE, '--json'], { BEAM_HOME: connectHome.dir })
    try {
      await c.waitFor('listening', 40_000)
      const data = Buffer.from('after a stale socket\n')
      expect(await exchange(local, data)).toBe(`${data.length} ${createHash('sha256').update(data).digest('hex')}\n`)
    } finally {
      await c.stop()
    }
    expect(await exists(local)).toBe(false)
  }, 90_000)

  it('refuses a socket another process listens on, and a file that is not a socket, with one line and exit 5', async () => {
    const env = { BEAM_HOME: connectHome.dir }
    const live = join(dir.dir, 'live.sock')
    const other = createServer()
    await new Promise<void>(resolve => other.listen(live, resolve))
    try {
      const r = await runBeam(['connect', connect, '--listen', `unix:${live}`, ...OFFLINE], env, 60_000)
      expect(r.code).toBe(5)
      expect(r.stderr).toMatch(/another process listens on this socket/)
      expect(r.stderr.trim().split('\n').filter(l => l.startsWith('beam:'))).toHaveLength(1)
      expect(await exists(live)).toBe(true)
    } finally {
      await new Promise<void>(resolve => { other.close(() => { resolve() }) })
    }
    const plain = join(dir.dir, 'plain-file')
    await writeFile(plain, 'keep me')
    const f = await runBeam(['connect', connect, '--listen', `unix:${plain}`, ...OFFLINE], env, 60_000)
    expect(f.code).toBe(5)
    expect(f.stderr).toMatch(/exists and is not a socket/)
    expect(await exists(plain)).toBe(true)
  }, 120_000)

  it('bad unix addresses get one line and exit 2', async () => {
    const env = { BEAM_HOME: connectHome.dir }
    const empty = await runBeam(['connect', connect, '--listen', 'unix:', ...OFFLINE], env)
    expect(empty.code).toBe(2)
    expect(empty.stderr).toMatch(/expected unix:PATH/)
    const both = await runBeam(['connect', connect, '--listen', 'unix:/tmp/x.sock', '--port', '4000', ...OFFLINE], env)
    expect(both.code).toBe(2)
    const twice = await runBeam(['connect', connect, '--listen', 'unix:/tmp/x.sock', '--listen', 'unix:/tmp/y.sock', ...OFFLINE], env)
    expect(twice.code).toBe(2)
    const share = await runBeam(['share', 'unix:', ...OFFLINE], { BEAM_HOME: shareHome.dir })
    expect(share.code).toBe(2)
  }, 60_000)

  it('a unix service that is down: the share says so, the connector is told the service is unavailable', async () => {
    const gone = join(dir.dir, 'gone.sock')
    const home = await tempHome()
    const s = await startShare([`unix:${gone}`], home.dir)
    try {
      expect(s.proc.stderr).toMatch(/is not a socket now/)
      const r = await runBeam(['connect', s.connect, '--stdio', ...OFFLINE, '--no-dht', '--log-level', 'silent'], { BEAM_HOME: connectHome.dir }, 60_000)
      expect(r.code).toBe(9)
      expect(r.stderr).toMatch(/service/)
      await waitUntil('service-unavailable event', () => s.proc.events.some(e => e.event === 'service-unavailable'), { timeoutMs: 10_000 })
      expect(String(s.proc.events.find(e => e.event === 'service-unavailable')?.reason)).toContain(`unix:${gone}`)
    } finally {
      await s.proc.stop()
      await home.cleanup()
    }
  }, 90_000)
})

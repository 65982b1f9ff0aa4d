import { chmod, chown, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { connect, createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { BeamProcess, runBeam, startShare } from '../helpers/beam.ts'
import { httpGet } from '../helpers/services.ts'
import { expectOneLine, pathExists, startWebPair, stopWebPair } from '../helpers/control.ts'
import type { WebPair } from '../helpers/control.ts'

// The control plane over its loopback transport (what Windows uses, chosen
// here with BEAM_CONTROL=tcp): a random port on 127.0.0.1 and a 0600 token
// file `run/<pid>.json`. beam status, logs, stop and cleanup through it; a
// wrong token, an unsafe file and a stale one (process gone) refused or
// removed, one line each.

const TCP = { BEAM_CONTROL: 'tcp' }

interface Status { pid: number, command: string, name: string | null, tunnels: Array<{ role: string, total: number, received: number }> }
interface TokenFile { protocol: string, pid: number, port: number, token: string }

/** Send raw bytes to a port and collect what comes back until it closes (bounded). */
async function exchange (port: number, text: string): Promise<{ got: string, reset: boolean }> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port })
    let got = ''
    let reset = false
    const t = setTimeout(() => { s.destroy(); reject(new Error('no close within 5 s')) }, 5000)
    s.setEncoding('utf8')
    s.on('connect', () => { s.write(text) })
    s.on('data', (d: string) => { got += d })
    s.on('error', (err: NodeJS.ErrnoException) => { reset = err.code === 'ECONNRESET' })
    s.on('close', () => { clearTimeout(t); resolve({ got, reset }) })
  })
}

describe('the control plane on a loopback port with a token file (BEAM_CONTROL=tcp)', () => {
  let home: WebPair['home']
  let share: WebPair['share']
  let conn: WebPair['conn']
  const others: BeamProcess[] = []
  const run = (): string => join(home.dir, 'run')
  let pair: WebPair | undefined

  beforeAll(async () => {
    pair = await startWebPair(TCP)
    ;({ home, share, conn } = pair)
  }, 90_000)
  afterAll(async () => { await stopWebPair(pair, others) })

  it('writes run/<pid>.json (0600, folder 0700) with a port on 127.0.0.1 and a token; no socket', async () => {
    const pid = share.proc.child.pid ?? 0
    const file = join(run(), `${pid}.json`)
    expect((await stat(run())).mode & 0o777).toBe(0o700)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await readdir(run())).filter(n => n.endsWith('.sock'))).toEqual([])
    const t = JSON.parse(await readFile(file, 'utf8')) as TokenFile
    expect(t).toMatchObject({ protocol: 'beam-control/1', pid, port: expect.any(Number) })
    expect(t.token).toMatch(/^[0-9a-f]{64}$/)

    // the right token first, then a request: an answer
    const ok = await exchange(t.port, `${t.token}\n{"protocol":"beam-control/1","op":"status"}\n`)
    expect(JSON.parse(ok.got.trim())).toMatchObject({ protocol: 'beam-control/1', ok: true, status: { pid, name: 'web' } })
    // a wrong token, no token, or a browser's request line: closed without a byte
    const wrong = await exchange(t.port, `${'0'.repeat(64)}\n{"protocol":"beam-control/1","op":"stop"}\n`)
    expect(wrong.got).toBe('')
    expect((await exchange(t.port, '{"protocol":"beam-control/1","op":"stop"}\n')).got).toBe('')
    expect((await exchange(t.port, `POST / HTTP/1.1\r\nHost: 127.0.0.1:${t.port}\r\n\r\n{"protocol":"beam-control/1","op":"stop"}\n`)).got).toBe('')
    expect(share.proc.child.exitCode).toBeNull()
  }, 30_000)

  it('status (with or without BEAM_CONTROL) and logs read both processes through their ports', async () => {
    const got = await httpGet(conn.port, '/download?mib=1&seed=5')
    expect(got.bytes).toBe(1024 * 1024)
    for (const env of [{}, TCP]) {
      const r = await runBeam(['status', '--json'], { BEAM_HOME: home.dir, ...env })
      expect(r.code, r.stderr).toBe(0)
      const ps = (JSON.parse(r.stdout.trim()) as { processes: Status[] }).processes
      expect(ps.map(p => p.pid).sort()).toEqual([share.proc.child.pid, conn.proc.child.pid].sort())
      const c = ps.find(p => p.command === 'connect')
      expect(c?.tunnels[0]).toMatchObject({ role: 'connect', total: 1 })
      expect(c?.tunnels[0]?.received).toBeGreaterThanOrEqual(1024 * 1024)
    }
    const logs = await runBeam(['logs', 'web'], { BEAM_HOME: home.dir })
    expect(logs.code, logs.stderr).toBe(0)
    expect(logs.stdout).toMatch(/^\d\d:\d\d:\d\d INFO +starting share$/m)

    // beam dashboard reads them the same way, a share's connect string included
    const dash = new BeamProcess(['dashboard', '--json'], { BEAM_HOME: home.dir })
    others.push(dash)
    const url = new URL(String((await dash.waitFor('dashboard', 30_000)).url))
    const cookie = `beam_dashboard_${url.port}=${url.searchParams.get('token') ?? ''}`
    let processes: Array<{ status: { pid: number }, connect: string | null }> = []
    for (let i = 0; i < 40 && processes.length < 2; i++) {
      const r = await fetch(`http://127.0.0.1:${url.port}/_beam/api/status`, { headers: { cookie } })
      expect(r.status).toBe(200)
      processes = ((await r.json()) as { processes: typeof processes }).processes
      if (processes.length < 2) await new Promise(resolve => setTimeout(resolve, 250))
    }
    expect(processes.map(p => p.status.pid).sort()).toEqual([share.proc.child.pid, conn.proc.child.pid].sort())
    expect(processes.find(p => p.status.pid === share.proc.child.pid)?.connect).toBe(share.connect)
    await dash.stop('SIGINT')
  }, 60_000)

  it('a token file with a wrong token exits 17, as does one others may read or another user owns', async () => {
    const real = JSON.parse(await readFile(join(run(), `${share.proc.child.pid}.json`), 'utf8')) as TokenFile
    // a file that names a live pid (this test's) and the share's port, with another token
    const forged = join(run(), `${process.pid}.json`)
    await writeFile(forged, JSON.stringify({ ...real, pid: process.pid, token: 'f'.repeat(64) }), { mode: 0o600 })
    try {
      expectOneLine(await runBeam(['status', String(process.pid)], { BEAM_HOME: home.dir }), 17, new RegExp(`127\\.0\\.0\\.1:${real.port} refused the token of .*${process.pid}\\.json`))
      expectOneLine(await runBeam(['stop', String(process.pid)], { BEAM_HOME: home.dir }), 17, /refused the token/)
      expect(share.proc.child.exitCode).toBeNull()
      // without a selector it is skipped with a warning
      const all = await runBeam(['status', '--json'], { BEAM_HOME: home.dir })
      expect(all.code, all.stderr).toBe(0)
      expect((JSON.parse(all.stdout.trim()) as { processes: Status[] }).processes).toHaveLength(2)

      await writeFile(forged, JSON.stringify({ ...real, pid: process.pid }), { mode: 0o600 })
      await chmod(forged, 0o644)
      expectOneLine(await runBeam(['status', String(process.pid)], { BEAM_HOME: home.dir }), 17, /open to other users \(mode 644\)/)
      await chmod(forged, 0o600)
      if (process.getuid?.() === 0) {
        await chown(forged, 65534, 65534)
        expectOneLine(await runBeam(['logs', String(process.pid)], { BEAM_HOME: home.dir }), 17, /belongs to uid 65534, not to this user/)
      }
    } finally {
      await import('node:fs/promises').then(async fs => { await fs.unlink(forged).catch(() => {}) })
    }
  }, 60_000)

  it('a stale token file (process gone, or nobody on its port) exits 16 and is removed; an invalid BEAM_CONTROL exits 2', async () => {
    const killed = await startShare(['7', '--ephemeral'], home.dir, TCP)
    others.push(killed.proc)
    const pid = killed.proc.child.pid ?? 0
    const file = join(run(), `${pid}.json`)
    await killed.proc.stop('SIGKILL')
    expect(await pathExists(file)).toBe(true)
    expectOneLine(await runBeam(['status', String(pid)], { BEAM_HOME: home.dir }), 16, new RegExp(`process ${pid} is not running \\(its control token file is stale; removed it\\)`))
    expect(await pathExists(file)).toBe(false)

    // a live pid (this test's) whose file names a port nobody listens on: a reused pid
    const closed = createServer()
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise(resolve => closed.close(resolve))
    const reused = join(run(), `${process.pid}.json`)
    await writeFile(reused, JSON.stringify({ protocol: 'beam-control/1', pid: process.pid, port, token: 'a'.repeat(64) }), { mode: 0o600 })
    expectOneLine(await runBeam(['status', String(process.pid)], { BEAM_HOME: home.dir }), 16, /control token file is stale; removed it/)
    expect(await pathExists(reused)).toBe(false)

    expectOneLine(await runBeam(['share', '7', '--ephemeral', '--no-default-bootstrap', '--listen', '/ip4/127.0.0.1/tcp/0'], { BEAM_HOME: home.dir, BEAM_CONTROL: 'pipe' }), 2, /invalid BEAM_CONTROL 'pipe': expected unix or tcp/)
  }, 60_000)

  it('beam stop by name removes the token file; beam cleanup stops the rest and removes a stale file', async () => {
    const sharePid = share.proc.child.pid ?? 0
    const r = await runBeam(['stop', 'web'], { BEAM_HOME: home.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`stopped pid ${sharePid} (beam share web)`)
    expect((await share.proc.exited).code).toBe(0)
    expect(await pathExists(join(run(), `${sharePid}.json`))).toBe(false)

    const killed = await startShare(['9', '--ephemeral'], home.dir, TCP)
    others.push(killed.proc)
    const stalePid = killed.proc.child.pid ?? 0
    const stale = join(run(), `${stalePid}.json`)
    await killed.proc.stop('SIGKILL')
    const c = await runBeam(['cleanup', '--json'], { BEAM_HOME: home.dir })
    expect(c.code, c.stderr).toBe(0)
    expect(JSON.parse(c.stdout.trim())).toMatchObject({ event: 'cleanup', stopped: [conn.proc.child.pid], staleSockets: [stale], skipped: [] })
    expect((await conn.proc.exited).code).toBe(0)
    expect(await readdir(run())).toEqual([])
  }, 90_000)
})

import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { BeamProcess, runBeam, startShare, tempHome, LOOPBACK_LISTEN, OFFLINE } from '../helpers/beam.ts'
import { httpGet, tcpConnect } from '../helpers/services.ts'
import { expectOneLine, pathExists, startWebPair, stopWebPair } from '../helpers/control.ts'
import type { WebPair } from '../helpers/control.ts'

// The local control plane through the real CLI: a share and a connect on
// 127.0.0.1 seen by `beam status`, their logs read and followed, stopped by
// `beam stop`; `beam cleanup` after a SIGKILL; sockets that are not safe to
// talk to; `beam config`; a second share of the same port.

interface Status { pid: number, command: string, name: string | null, peerId: string, access: string | null, ports: number[], dashboard: string | null, tunnels: Tunnel[] }
interface Tunnel { role: string, peer: string, path: { direct: boolean, transport: string } | null, open: number, total: number, sent: number, received: number }

async function status (home: string, ...args: string[]): Promise<Status[]> {
  const r = await runBeam(['status', '--json', ...args], { BEAM_HOME: home })
  expect(r.code, r.stderr).toBe(0)
  const ev = JSON.parse(r.stdout.trim()) as { event: string, processes: Status[] }
  expect(ev.event).toBe('status')
  return ev.processes
}

describe('beam status, logs and stop with a share and a connect running', () => {
  let home: WebPair['home']
  let http: WebPair['http']
  let share: WebPair['share']
  let conn: WebPair['conn']
  const others: BeamProcess[] = []
  let pair: WebPair | undefined

  beforeAll(async () => {
    pair = await startWebPair()
    ;({ home, http, share, conn } = pair)
  }, 90_000)
  afterAll(async () => { await stopWebPair(pair, others) })

  it('status --json shows both processes, and the tunnel\'s bytes rise after a transfer', async () => {
    const sharePid = share.proc.child.pid ?? 0
    const connPid = conn.proc.child.pid ?? 0
    const before = await status(home.dir)
    expect(before.map(p => p.pid).sort()).toEqual([sharePid, connPid].sort())
    const s = before.find(p => p.pid === sharePid)
    expect(s).toMatchObject({ command: 'share', name: 'web', peerId: share.peerId, access: 'secret', ports: [http.port], dashboard: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/_beam\/\?token=/), tunnels: [] })
    const c = before.find(p => p.pid === connPid)
    expect(c?.command).toBe('connect')
    expect(c?.tunnels).toHaveLength(1)
    expect(c?.tunnels[0]).toMatchObject({ role: 'connect', peer: share.peerId, path: { direct: true, transport: 'tcp' }, open: 0, total: 0, sent: 0, received: 0 })

    const got = await httpGet(conn.port, '/download?mib=2&seed=3')
    expect(got.bytes).toBe(2 * 1024 * 1024)

    const after = await status(home.dir)
    const t = after.find(p => p.pid === connPid)?.tunnels[0]
    expect(t?.total).toBe(1)
    expect(t?.received).toBeGreaterThanOrEqual(2 * 1024 * 1024)
    expect(t?.sent).toBeGreaterThan(0)
    const onShare = after.find(p => p.pid === sharePid)?.tunnels ?? []
    expect(onShare).toHaveLength(1)
    expect(onShare[0]).toMatchObject({ role: 'share', total: 1 })
    expect(onShare[0]?.peer).not.toBe(share.peerId)
    expect(onShare[0]?.sent).toBeGreaterThanOrEqual(2 * 1024 * 1024)

    // the human form names the process, the peer and the bytes
    const human = await runBeam(['status', 'web'], { BEAM_HOME: home.dir })
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain(`pid ${sharePid}: beam share web`)
    expect(human.stdout).toContain(share.peerId)
    expect(human.stdout).toMatch(/sent 2\.1 MB/)
  }, 90_000)

  it('counts the bytes of a connection that is still open', async () => {
    const sock = await tcpConnect(conn.port)
    try {
      // an upload that never ends: the connection stays open with 1 MiB sent
      sock.write(`POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: ${4 * 1024 * 1024}\r\n\r\n`)
      sock.write(Buffer.alloc(1024 * 1024, 7))
      const connPid = conn.proc.child.pid ?? 0
      let t: Tunnel | undefined
      for (let i = 0; i < 40; i++) {
        t = (await status(home.dir, String(connPid)))[0]?.tunnels[0]
        if (t != null && t.sent >= 1024 * 1024) break
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      expect(t?.open).toBe(1)
      expect(t?.sent).toBeGreaterThanOrEqual(1024 * 1024)
      const onShare = (await status(home.dir, 'web'))[0]?.tunnels[0]
      expect(onShare?.open).toBe(1)
      expect(onShare?.received).toBeGreaterThanOrEqual(1024 * 1024)
    } finally {
      sock.destroy()
    }
  }, 60_000)

  it('status of one process by name or pid; an unknown one is one line and exit 15', async () => {
    expect((await status(home.dir, 'web')).map(p => p.pid)).toEqual([share.proc.child.pid])
    expect((await status(home.dir, String(conn.proc.child.pid))).map(p => p.command)).toEqual(['connect'])
    expectOneLine(await runBeam(['status', 'nosuch'], { BEAM_HOME: home.dir }), 15, /no beam process named 'nosuch'.*running: web/)
    expectOneLine(await runBeam(['status', '999999999'], { BEAM_HOME: home.dir }), 15, /no beam process with pid 999999999/)
    // logs and stop choose their process the same way, and say so the same way
    expectOneLine(await runBeam(['logs', 'nosuch', '-f'], { BEAM_HOME: home.dir }), 15, /no beam process named 'nosuch'.*running: web/)
    expectOneLine(await runBeam(['stop', '999999999'], { BEAM_HOME: home.dir }), 15, /no beam process with pid 999999999/)
  }, 60_000)

  it('logs prints the kept lines (with --since), and -f follows a new line', async () => {
    const pid = String(share.proc.child.pid)
    const r = await runBeam(['logs', pid], { BEAM_HOME: home.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^\d\d:\d\d:\d\d INFO +starting share$/m)
    const none = await runBeam(['logs', 'web', '--since', '2099-01-01T00:00:00Z'], { BEAM_HOME: home.dir })
    expect(none.code, none.stderr).toBe(0)
    expect(none.stdout).toBe('')
    expectOneLine(await runBeam(['logs', 'web', '--since', 'yesterday'], { BEAM_HOME: home.dir }), 2, /invalid --since 'yesterday'/)

    const follower = new BeamProcess(['logs', pid, '-f', '--json'], { BEAM_HOME: home.dir })
    others.push(follower)
    await follower.waitFor('log', 20_000, e => (e.line as { msg?: string }).msg === 'starting share')
    const seen = follower.events.length
    // a new tunnel makes the share log a new line
    await httpGet(conn.port, '/')
    const hit = await follower.waitFor('log', 20_000, e => (e.line as { msg?: string }).msg === 'tunnel open', seen)
    expect(hit.pid).toBe(share.proc.child.pid)
    await follower.stop('SIGINT')
  }, 90_000)

  it('a second share of the same port and identity warns and names the first; beam stop stops it', async () => {
    const dup = new BeamProcess(['share', String(http.port), ...LOOPBACK_LISTEN, ...OFFLINE, '--json'], { BEAM_HOME: home.dir })
    others.push(dup)
    const ev = await dup.waitFor('duplicate', 30_000)
    expect(ev).toMatchObject({ pid: share.proc.child.pid, peerId: share.peerId, ports: [http.port], name: 'web' })
    await dup.waitFor('ready', 30_000)
    expect(dup.stderr).toMatch(new RegExp(`another beam share \\(pid ${share.proc.child.pid}, web\\) already shares port ${http.port} with this identity`))
    const dupPid = dup.child.pid ?? 0
    const r = await runBeam(['stop', String(dupPid), '--json'], { BEAM_HOME: home.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout.trim())).toEqual({ event: 'stopped', pid: dupPid, exited: true })
    expect((await dup.exited).code).toBe(0)
    expect(await pathExists(join(home.dir, 'run', `${dupPid}.sock`))).toBe(false)
  }, 90_000)

  it('beam stop by name and --all stop gracefully (exit 0, sockets removed)', async () => {
    expectOneLine(await runBeam(['stop'], { BEAM_HOME: home.dir }), 2, /needs a process name or pid, or --all/)
    const r = await runBeam(['stop', 'web'], { BEAM_HOME: home.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`stopped pid ${share.proc.child.pid} (beam share web)`)
    expect((await share.proc.exited).code).toBe(0)
    const all = await runBeam(['stop', '--all'], { BEAM_HOME: home.dir })
    expect(all.code, all.stderr).toBe(0)
    expect((await conn.proc.exited).code).toBe(0)
    expect(await status(home.dir)).toEqual([])
  }, 60_000)
})

describe('beam status of a relay', () => {
  it('shows its counters; beam stop stops it', async () => {
    const home = await tempHome()
    const relay = new BeamProcess(['relay', '--listen', '/ip4/127.0.0.1/tcp/0', '--stun-port', '0', '--no-advertise', '--json'], { BEAM_HOME: home.dir })
    try {
      await relay.waitFor('ready', 30_000)
      const [p] = await status(home.dir) as Array<Status & { role: string, relay: { reservations: number, circuits: number, bytesRelayed: number } | null }>
      expect(p).toMatchObject({ pid: relay.child.pid, command: 'relay', role: 'relay', tunnels: [], relay: { reservations: 0, circuits: 0, bytesRelayed: 0 } })
      const r = await runBeam(['stop', String(relay.child.pid)], { BEAM_HOME: home.dir })
      expect(r.code, r.stderr).toBe(0)
      expect((await relay.exited).code).toBe(0)
    } finally {
      await relay.stop()
      await home.cleanup()
    }
  }, 60_000)
})

describe('beam cleanup', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  const procs: BeamProcess[] = []
  beforeAll(async () => { home = await tempHome() })
  afterAll(async () => {
    for (const p of procs) await p.stop().catch(() => {})
    await home?.cleanup()
  })

  it('stops every process, removes the socket a SIGKILL left, old peers and left-over temporary files (--dry-run changes nothing)', async () => {
    const [killed, live] = await Promise.all([startShare(['7', '--ephemeral'], home.dir), startShare(['9', '--ephemeral'], home.dir)])
    procs.push(killed.proc, live.proc)
    const stalePid = killed.proc.child.pid ?? 0
    const stale = join(home.dir, 'run', `${stalePid}.sock`)
    await killed.proc.stop('SIGKILL')
    expect(await pathExists(stale)).toBe(true)
    // a peer last seen 40 days ago, one seen now
    const book = JSON.parse(await readFile(join(home.dir, 'peers.json'), 'utf8')) as { peers: Record<string, { seen: number }> }
    book.peers['12D3KooWOld'] = { ...(Object.values(book.peers)[0] ?? { seen: 0 }), seen: Date.now() - 40 * 86_400_000 }
    await writeFile(join(home.dir, 'peers.json'), JSON.stringify(book))
    const tmp = join(home.dir, 'peers.json.deadbeef.tmp')
    await writeFile(tmp, '{}')
    const old = new Date(Date.now() - 2 * 3600_000)
    const { utimes } = await import('node:fs/promises')
    await utimes(tmp, old, old)

    const dry = await runBeam(['cleanup', '--dry-run', '--json'], { BEAM_HOME: home.dir })
    expect(dry.code, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout.trim())).toMatchObject({ event: 'cleanup', dryRun: true, stopped: [live.proc.child.pid], staleSockets: [stale], peers: ['12D3KooWOld'], tempFiles: [tmp] })
    expect(await pathExists(stale)).toBe(true)
    expect(await pathExists(tmp)).toBe(true)
    expect(live.proc.child.exitCode).toBeNull()

    const r = await runBeam(['cleanup'], { BEAM_HOME: home.dir })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`stopped pid ${live.proc.child.pid} (beam share)`)
    expect(r.stderr).toContain(`removed the stale control socket of pid ${stalePid}`)
    expect(r.stderr).toContain('forgot 1 peer(s) of peers.json not seen for 30 days')
    expect(r.stderr).toContain(`removed the left-over temporary file ${tmp}`)
    expect((await live.proc.exited).code).toBe(0)
    expect(await pathExists(stale)).toBe(false)
    expect(await pathExists(tmp)).toBe(false)
    expect(Object.keys((JSON.parse(await readFile(join(home.dir, 'peers.json'), 'utf8')) as { peers: object }).peers)).not.toContain('12D3KooWOld')

    const again = await runBeam(['cleanup'], { BEAM_HOME: home.dir })
    expect(again.stderr).toContain('nothing to clean up')
  }, 120_000)
})

describe('control sockets beam does not talk to', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  let server: Server | undefined
  const conns = new Set<Socket>()
  beforeAll(async () => {
    home = await tempHome()
    await mkdir(join(home.dir, 'run'), { recursive: true, mode: 0o700 })
  })
  afterAll(async () => {
    for (const c of conns) c.destroy()
    await new Promise(resolve => server != null ? server.close(resolve) : resolve(undefined))
    await home?.cleanup()
  })

  it('a dead process (exit 16), another protocol (exit 12), another owner or an open mode (exit 17): one line each', async () => {
    // sockets whose process was killed: status, stop and logs each say so and remove it
    const { spawn } = await import('node:child_process')
    for (const [pid, command] of [[4000001, 'status'], [4000003, 'stop'], [4000004, 'logs']] as const) {
      const deadPath = join(home.dir, 'run', `${pid}.sock`)
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(deadPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
      await new Promise<void>(resolve => child.stdout.once('data', () => { resolve() }))
      await chmod(deadPath, 0o600)
      child.kill('SIGKILL')
      await new Promise(resolve => child.once('exit', resolve))
      expectOneLine(await runBeam([command, String(pid)], { BEAM_HOME: home.dir }), 16, new RegExp(`process ${pid} is not running \\(its control socket is stale; removed it\\)`))
      expect(await pathExists(deadPath)).toBe(false)
    }

    // something that is not a beam control socket
    const path = join(home.dir, 'run', '4000002.sock')
    server = createServer(s => { conns.add(s); s.end('SSH-2.0-OpenSSH_9.6\r\n') })
    await new Promise<void>(resolve => server?.listen(path, resolve))
    await chmod(path, 0o600)
    expectOneLine(await runBeam(['status', '4000002'], { BEAM_HOME: home.dir }), 12, /does not speak beam-control\/1/)
    expectOneLine(await runBeam(['logs', '4000002'], { BEAM_HOME: home.dir }), 12, /does not speak beam-control\/1/)

    await chmod(path, 0o666)
    expectOneLine(await runBeam(['status', '4000002'], { BEAM_HOME: home.dir }), 17, /open to other users \(mode 666\)/)
    await chmod(path, 0o600)
    if (process.getuid?.() === 0) {
      await chown(path, 65534, 65534)
      expectOneLine(await runBeam(['stop', '4000002'], { BEAM_HOME: home.dir }), 17, /belongs to uid 65534, not to this user/)
    }
    // without a selector it is skipped with a warning, not an error
    const all = await runBeam(['status', '--json'], { BEAM_HOME: home.dir })
    expect(all.code, all.stderr).toBe(0)
    expect(JSON.parse(all.stdout.trim())).toEqual({ event: 'status', processes: [] })
  }, 60_000)
})

describe('beam config', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  beforeAll(async () => { home = await tempHome() })
  afterAll(async () => { await home?.cleanup() })

  it('set then get round-trips; an invalid value is refused with the loader\'s message and the file is unchanged', async () => {
    const env = { BEAM_HOME: home.dir }
    const file = join(home.dir, 'beam.config.yaml')
    const p = await runBeam(['config', 'path'], env)
    expect(p.stdout.trim()).toBe(file)
    expect(p.stderr).toContain('does not exist yet')

    const set = await runBeam(['config', 'set', 'tunnels.web.port', '3000'], env)
    expect(set.code, set.stderr).toBe(0)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const get = await runBeam(['config', 'get', 'tunnels.web.port'], env)
    expect(get.code, get.stderr).toBe(0)
    expect(get.stdout).toBe('3000\n')
    const json = await runBeam(['config', 'get', 'tunnels.web.port', '--json'], env)
    expect(JSON.parse(json.stdout.trim())).toEqual({ event: 'config', key: 'tunnels.web.port', value: 3000 })

    const before = await readFile(file, 'utf8')
    expectOneLine(await runBeam(['config', 'set', 'tunnels.web.port', '70000'], env), 7, /tunnels\.web\.port/)
    expect(await readFile(file, 'utf8')).toBe(before)
    const typo = await runBeam(['config', 'set', 'tunnels.web.acess', 'public'], env)
    expect(typo.code).toBe(7)
    expect(typo.stderr).toMatch(/did you mean 'access'/)
    expectOneLine(await runBeam(['config', 'get', 'tunnels.api.port'], env), 7, /tunnels\.api\.port: no such key/)

    const list = await runBeam(['config', 'list'], env)
    expect(list.stdout).toBe('version = 1\ntunnels.web.port = 3000\n')
  }, 60_000)
})

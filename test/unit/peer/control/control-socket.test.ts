import { spawn } from 'node:child_process'
import { chmod, chown, lstat, mkdtemp, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import { controlRequest, listControlSockets, probeSocket, startControlServer, LogRing, silentLogger } from '../../../../src/peer/index.ts'
import type { ControlServer, ProcessStatus } from '../../../../src/peer/index.ts'

// The control socket on a real unix socket in a temporary folder: what
// `beam status`, `logs` and `stop` rely on, without a beam node.

const uid = process.getuid?.() ?? 0
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'beam-ctl-'))
  cleanups.push(async () => { await rm(d, { recursive: true, force: true }) })
  return d
}

const STATUS: ProcessStatus = {
  pid: 4242, command: 'share', role: 'share', name: 'web', peerId: '12D3KooWtest', startedAt: new Date(0).toISOString(), uptimeSeconds: 1,
  access: 'secret', reachability: 'lan-only', ports: [3000], connections: 0, tunnels: [], relay: null, dashboard: null, logFile: null, gateway: null
}

async function start (dir: string, pid = 4242): Promise<{ server: ControlServer, logs: LogRing, stops: number[] }> {
  const logs = new LogRing()
  const stops: number[] = []
  const server = await startControlServer({ path: join(dir, 'run', `${pid}.sock`), status: () => STATUS, logs, onStop: () => { stops.push(Date.now()) }, log: silentLogger() })
  cleanups.push(async () => { await server.close() })
  return { server, logs, stops }
}

/** A socket file left by a process killed with SIGKILL (nothing listens on it any more). */
async function staleSocket (path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error('listener did not start')) }, 10_000)
    child.stdout.once('data', () => { clearTimeout(t); resolve() })
  })
  await chmod(path, 0o600) // as beam's own sockets are
  child.kill('SIGKILL')
  await new Promise(resolve => child.once('exit', resolve))
}

describe('control socket', () => {
  it('is created 0600 in a 0700 folder and removed on close', async () => {
    const dir = await tmp()
    const { server } = await start(dir)
    expect((await stat(join(dir, 'run'))).mode & 0o777).toBe(0o700)
    const st = await lstat(server.path)
    expect(st.isSocket()).toBe(true)
    expect(st.mode & 0o777).toBe(0o600)
    expect(await listControlSockets(join(dir, 'run'))).toEqual([{ pid: 4242, path: server.path }])
    await server.close()
    expect(await lstat(server.path).then(() => true, () => false)).toBe(false)
  })

  it('answers status, logs (since a time) and stop', async () => {
    const dir = await tmp()
    const { server, logs, stops } = await start(dir)
    const entry = { pid: 4242, path: server.path }
    expect(await controlRequest(entry, { op: 'status' }, { uid })).toMatchObject({ ok: true, status: STATUS })
    logs.push('{"msg":"one"}')
    const cut = Date.now() + 1
    await new Promise(resolve => setTimeout(resolve, 5))
    logs.push('{"msg":"two"}')
    const all = await controlRequest(entry, { op: 'logs' }, { uid })
    expect('logs' in all && all.logs.map(e => e.line)).toEqual(['{"msg":"one"}', '{"msg":"two"}'])
    const recent = await controlRequest(entry, { op: 'logs', since: cut }, { uid })
    expect('logs' in recent && recent.logs.map(e => e.line)).toEqual(['{"msg":"two"}'])
    expect(await controlRequest(entry, { op: 'stop' }, { uid })).toMatchObject({ ok: true, stopping: true })
    expect(stops).toHaveLength(1)
  })

  it('gives a share\'s connect string to its owner (connect op); null where there is none', async () => {
    const dir = await tmp()
    const server = await startControlServer({ path: join(dir, 'run', '7.sock'), status: () => STATUS, logs: new LogRing(), connectString: () => 'beamtestconnect', onStop: () => {}, log: silentLogger() })
    cleanups.push(async () => { await server.close() })
    expect(await controlRequest({ pid: 7, path: server.path }, { op: 'connect' }, { uid })).toMatchObject({ ok: true, connect: 'beamtestconnect' })
    const { server: plain } = await start(dir, 8)
    expect(await controlRequest({ pid: 8, path: plain.path }, { op: 'connect' }, { uid })).toMatchObject({ ok: true, connect: null })
  })

  it('follows new log lines until the client stops', async () => {
    const dir = await tmp()
    const { server, logs } = await start(dir)
    const seen: string[] = []
    const ctl = new AbortController()
    const done = controlRequest({ pid: 4242, path: server.path }, { op: 'logs', follow: true }, {
      uid,
      signal: ctl.signal,
      onLog: e => { seen.push(e.line); if (seen.length === 2) ctl.abort() },
      onFirst: () => { logs.push('new 1'); logs.push('new 2') }
    })
    const r = await done
    expect(r).toMatchObject({ ok: true, following: true })
    expect(seen).toEqual(['new 1', 'new 2'])
  })

  it('refuses a request of another protocol version', async () => {
    const dir = await tmp()
    const { server } = await start(dir)
    const answer = await new Promise<string>((resolve) => {
      const s = require('node:net').connect(server.path) as import('node:net').Socket
      let text = ''
      s.setEncoding('utf8').on('data', (d: string) => { text += d }).on('close', () => { resolve(text) })
      s.write('{"protocol":"beam-control/0","op":"status"}\n')
    })
    expect(JSON.parse(answer)).toMatchObject({ ok: false, error: expect.stringMatching(/unsupported protocol/) as string })
  })

  it('sees a socket left by a killed process as stale, and replaces it when a new process starts', async () => {
    const dir = await tmp()
    const path = join(dir, 'run', '4242.sock')
    await start(dir).then(async s => { await s.server.close() })
    await staleSocket(path)
    expect(await probeSocket(path)).toBe('stale')
    await expect(controlRequest({ pid: 4242, path }, { op: 'status' }, { uid })).rejects.toMatchObject({ name: 'ProcessGoneError', removed: false })
    const again = await start(dir)
    expect(await controlRequest({ pid: 4242, path: again.server.path }, { op: 'status' }, { uid })).toMatchObject({ ok: true })
  })

  it('removes a stale socket when asked', async () => {
    const dir = await tmp()
    const path = join(dir, 'run', '77.sock')
    await start(dir, 77).then(async s => { await s.server.close() })
    await staleSocket(path)
    await expect(controlRequest({ pid: 77, path }, { op: 'status' }, { uid, removeStale: true })).rejects.toMatchObject({ name: 'ProcessGoneError', removed: true })
    expect(await lstat(path).then(() => true, () => false)).toBe(false)
  })

  it('does not open a socket a live process listens on', async () => {
    const dir = await tmp()
    await start(dir)
    await expect(start(dir)).rejects.toMatchObject({ name: 'ControlListenError' })
  })

  it('refuses to talk to a socket open to others or owned by another user', async () => {
    const dir = await tmp()
    const { server } = await start(dir)
    const entry = { pid: 4242, path: server.path }
    await chmod(server.path, 0o666)
    await expect(controlRequest(entry, { op: 'status' }, { uid })).rejects.toMatchObject({ name: 'ControlSocketUnsafeError', message: expect.stringMatching(/open to other users \(mode 666\)/) as string })
    await chmod(server.path, 0o600)
    await chmod(join(dir, 'run'), 0o777)
    await expect(controlRequest(entry, { op: 'status' }, { uid })).rejects.toMatchObject({ name: 'ControlSocketUnsafeError', message: expect.stringMatching(/writable by other users \(mode 777\)/) as string })
    await chmod(join(dir, 'run'), 0o700)
    await expect(controlRequest(entry, { op: 'status' }, { uid: uid + 1 })).rejects.toMatchObject({ name: 'ControlSocketUnsafeError', message: expect.stringMatching(/belongs to uid/) as string })
    if (uid === 0) {
      await chown(server.path, 65534, 65534)
      await expect(controlRequest(entry, { op: 'status' }, { uid })).rejects.toMatchObject({ name: 'ControlSocketUnsafeError' })
    }
  })

  it('says when the other end does not speak the control protocol', async () => {
    const dir = await tmp()
    await start(dir, 1).then(async s => { await s.server.close() }) // makes the run folder
    const path = join(dir, 'run', '99.sock')
    const conns = new Set<import('node:net').Socket>()
    const other = createServer(s => { conns.add(s); s.end('HTTP/1.1 400 Bad Request\r\n\r\n') })
    await new Promise<void>(resolve => other.listen(path, resolve))
    cleanups.push(async () => { for (const c of conns) c.destroy(); await new Promise(resolve => other.close(resolve)) })
    await chmod(path, 0o600)
    await expect(controlRequest({ pid: 99, path }, { op: 'status' }, { uid })).rejects.toMatchObject({ name: 'ControlProtocolError' })
  })
})

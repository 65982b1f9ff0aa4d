import { mkdtemp, readFile, rm, stat, symlink, writeFile, mkdir } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import { controlRequest, listControlSockets, readControlTokenFile, startControlServer, LogRing, silentLogger } from '../../../../src/peer/index.ts'
import type { ControlServer, ControlTokenFile, ProcessStatus } from '../../../../src/peer/index.ts'

// The control endpoint's loopback transport on a real port and token file,
// without a beam node: what Windows uses for beam status, logs and stop.

const uid = process.getuid?.() ?? 0
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'beam-ctltcp-'))
  cleanups.push(async () => { await rm(d, { recursive: true, force: true }) })
  return d
}

const STATUS: ProcessStatus = {
  pid: process.pid, command: 'share', role: 'share', name: 'web', peerId: '12D3KooWtest', startedAt: new Date(0).toISOString(), uptimeSeconds: 1,
  access: 'secret', reachability: 'lan-only', ports: [3000], connections: 0, tunnels: [], relay: null, dashboard: null, logFile: null, gateway: null
}

async function start (dir: string): Promise<{ server: ControlServer, stops: number[] }> {
  const stops: number[] = []
  const server = await startControlServer({ path: join(dir, 'run', `${process.pid}.json`), transport: 'tcp', status: () => STATUS, logs: new LogRing(), onStop: () => { stops.push(1) }, log: silentLogger() })
  cleanups.push(async () => { await server.close() })
  return { server, stops }
}

/** Bytes sent back on a raw connection before it closes. */
async function raw (port: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port })
    let got = ''
    const t = setTimeout(() => { s.destroy(); reject(new Error('not closed within 5 s')) }, 5000)
    s.setEncoding('utf8')
    s.on('connect', () => { s.write(text) })
    s.on('data', (d: string) => { got += d })
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(t); resolve(got) })
  })
}

describe('control endpoint on a loopback port with a token file', () => {
  it('writes the token file 0600 with its port, answers the right token, closes on any other first line, removes the file on close', async () => {
    const dir = await tmp()
    const { server, stops } = await start(dir)
    expect(server.port).toBeGreaterThan(0)
    expect((await stat(join(dir, 'run'))).mode & 0o777).toBe(0o700)
    expect((await stat(server.path)).mode & 0o777).toBe(0o600)
    const file = JSON.parse(await readFile(server.path, 'utf8')) as ControlTokenFile
    expect(file).toMatchObject({ protocol: 'beam-control/1', pid: process.pid, port: server.port })
    expect(await listControlSockets(join(dir, 'run'))).toEqual([{ pid: process.pid, path: server.path, transport: 'tcp' }])

    const entry = { pid: process.pid, path: server.path, transport: 'tcp' as const }
    expect(await controlRequest(entry, { op: 'status' }, { uid })).toMatchObject({ ok: true, status: { name: 'web' } })
    // a token one digit off, with the request in the same write or in a later one
    const off = (file.token[0] === 'a' ? 'b' : 'a') + file.token.slice(1)
    expect(await raw(file.port, `${off}\n{"protocol":"beam-control/1","op":"stop"}\n`)).toBe('')
    expect(await raw(file.port, `${off}\n`)).toBe('')
    expect(await raw(file.port, 'x'.repeat(5000))).toBe('')
    expect(stops).toEqual([])
    expect(await raw(file.port, `${file.token}\n{"protocol":"beam-control/1","op":"stop"}\n`)).toMatch(/"stopping":true/)
    expect(stops).toEqual([1])

    // a second endpoint on the same file while this one answers is refused
    await expect(start(dir)).rejects.toMatchObject({ name: 'ControlListenError' })
    await server.close()
    await expect(stat(server.path)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('replaces a token file whose process is gone', async () => {
    const dir = await tmp()
    await mkdir(join(dir, 'run'), { mode: 0o700 })
    await writeFile(join(dir, 'run', `${process.pid}.json`), JSON.stringify({ protocol: 'beam-control/1', pid: process.pid, port: 1, token: '0'.repeat(64) }), { mode: 0o600 })
    const { server } = await start(dir)
    expect((JSON.parse(await readFile(server.path, 'utf8')) as ControlTokenFile).port).toBe(server.port)
  })

  it('refuses a token file that is a link, not a token file, or names another pid', async () => {
    const dir = await tmp()
    const { server } = await start(dir)
    const link = join(dir, 'run', '1.json')
    await symlink(server.path, link)
    await expect(readControlTokenFile(link, uid)).rejects.toMatchObject({ name: 'ControlSocketUnsafeError', message: expect.stringMatching(/symbolic link/) })
    const junk = join(dir, 'run', '2.json')
    await writeFile(junk, '{"port": 1}', { mode: 0o600 })
    await expect(readControlTokenFile(junk, uid)).rejects.toMatchObject({ name: 'ControlSocketUnsafeError', message: expect.stringMatching(/not a beam-control\/1 token file/) })
    const other = join(dir, 'run', '3.json')
    await writeFile(other, await readFile(server.path), { mode: 0o600 })
    await expect(controlRequest({ pid: 3, path: other, transport: 'tcp' }, { op: 'status' }, { uid })).rejects.toMatchObject({ name: 'ControlSocketUnsafeError', message: expect.stringMatching(/is for pid \d+, not 3/) })
  })
})

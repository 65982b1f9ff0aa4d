/**
 * Secrets without argv, through the real CLI on 127.0.0.1: `beam connect`
 * reads its connect string from standard input (`-`), from `--connect-file`
 * and from BEAM_CONNECT, and then carries bytes to a real share; the secret
 * is in no process's command line. `beam backends` authenticates to a real
 * tor (started here with DisableNetwork 1: it contacts nothing) with the
 * password from `--tor-password-file`.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { connect as netConnect } from 'node:net'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BeamProcess, OFFLINE, runBeam, startShare, tempHome } from '../helpers/beam.ts'
import { freePort, readAll, startTcpService, tcpConnect } from '../helpers/services.ts'
import { TOR_BIN, torInstalled } from '../backends/tor/tor-network.ts'

type Home = Awaited<ReturnType<typeof tempHome>>

/** Start `beam connect` with a pipe on its standard input. */
function connectWithStdin (args: string[], env: Record<string, string>): BeamProcess {
  return new BeamProcess(['connect', ...args, ...OFFLINE, '--json'], env, (argv, fullEnv) =>
    spawn(argv[0] ?? process.execPath, argv.slice(1), { env: { ...process.env, ...fullEnv }, stdio: ['pipe', 'pipe', 'pipe'] }))
}

/** Bytes sent through the tunnel come back from the echo service. */
async function expectEcho (port: number): Promise<void> {
  const s = await tcpConnect(port)
  const payload = randomBytes(64 * 1024)
  s.end(payload)
  const got = await readAll(s, 30_000)
  expect(got.error).toBeUndefined()
  expect(got.data.equals(payload)).toBe(true)
}

describe('beam connect with the connect string off the command line', () => {
  let home: Home
  let echo: Awaited<ReturnType<typeof startTcpService>>
  let share: Awaited<ReturnType<typeof startShare>>
  const procs: BeamProcess[] = []

  beforeAll(async () => {
    home = await tempHome()
    echo = await startTcpService(s => { s.pipe(s) })
    share = await startShare([String(echo.port)], join(home.dir, 'share'))
    procs.push(share.proc)
  }, 60_000)
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop()
    await echo?.close()
    await home?.cleanup()
  })

  /** The secret part of the connect string must not be in the process's argv. */
  async function expectNotInArgv (proc: BeamProcess): Promise<void> {
    const cmdline = await readFile(`/proc/${proc.child.pid ?? 0}/cmdline`, 'utf8')
    expect(cmdline).toContain('connect')
    expect(cmdline).not.toContain(share.connect)
    expect(cmdline).not.toContain(share.connect.slice(-40))
  }

  it('reads it from standard input with `beam connect -` and tunnels bytes', async () => {
    const proc = connectWithStdin(['-'], { BEAM_HOME: join(home.dir, 'c-stdin') })
    procs.push(proc)
    // a person typing it: the line, and standard input stays open
    proc.child.stdin?.write(`${share.connect}\n`)
    const ev = await proc.waitFor('listening', 40_000)
    await expectNotInArgv(proc)
    await expectEcho(Number(ev.port))
    expect(proc.stderr).not.toContain(share.connect.slice(-40))
  }, 90_000)

  it('reads it from --connect-file and tunnels bytes', async () => {
    const file = join(home.dir, 'connect-string')
    await writeFile(file, `${share.connect}\n`, { mode: 0o600 })
    const proc = new BeamProcess(['connect', '--connect-file', file, ...OFFLINE, '--json'], { BEAM_HOME: join(home.dir, 'c-file') })
    procs.push(proc)
    const ev = await proc.waitFor('listening', 40_000)
    await expectNotInArgv(proc)
    await expectEcho(Number(ev.port))
  }, 90_000)

  it('reads it from BEAM_CONNECT and tunnels bytes', async () => {
    const proc = new BeamProcess(['connect', ...OFFLINE, '--json'], { BEAM_HOME: join(home.dir, 'c-env'), BEAM_CONNECT: share.connect })
    procs.push(proc)
    const ev = await proc.waitFor('listening', 40_000)
    await expectNotInArgv(proc)
    await expectEcho(Number(ev.port))
  }, 90_000)

  it('a damaged connect string from a file is reported without quoting it (exit 4)', async () => {
    const file = join(home.dir, 'bad')
    const bad = `${share.connect.slice(0, -10)}zzzzzzzzzz`
    await writeFile(file, bad)
    const r = await runBeam(['connect', '--connect-file', file, ...OFFLINE], { BEAM_HOME: join(home.dir, 'c-bad') })
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toContain(`the target from --connect-file ${file}:`)
    expect(r.stderr).not.toContain(bad.slice(-40))
  }, 60_000)
})

describe('beam backends with --tor-password-file against a real tor', async () => {
  const haveTor = await torInstalled()
  if (!haveTor) console.warn('SKIPPED: tor is not installed (scripts/install-test-deps.sh installs it)')
  let home: Home
  let tor: ChildProcess | undefined
  let controlPort = 0
  const password = `pw ${randomBytes(6).toString('hex')}`

  beforeAll(async () => {
    if (!haveTor) return
    home = await tempHome()
    const empty = join(home.dir, 'empty-torrc')
    await writeFile(empty, '')
    const hashed = await new Promise<string>((resolve, reject) => {
      const c = spawn(TOR_BIN, ['--defaults-torrc', empty, '-f', empty, '--quiet', '--hash-password', password], { stdio: ['ignore', 'pipe', 'ignore'] })
      let out = ''
      const t = setTimeout(() => { c.kill('SIGKILL') }, 30_000)
      c.stdout.on('data', (d: Buffer) => { out += d.toString() })
      c.once('error', reject)
      c.once('close', () => { clearTimeout(t); resolve(out.trim().split('\n').pop() ?? '') })
    })
    controlPort = await freePort()
    const torrc = join(home.dir, 'torrc')
    // no network at all: only the control port on 127.0.0.1
    await writeFile(torrc, [
      'DisableNetwork 1', 'SocksPort 0', `ControlPort 127.0.0.1:${controlPort}`, `HashedControlPassword ${hashed}`,
      `DataDirectory ${join(home.dir, 'tor-data')}`, 'GeoIPFile /nonexistent-beam-test', 'GeoIPv6File /nonexistent-beam-test', 'Log notice stderr'
    ].join('\n') + '\n')
    tor = spawn(TOR_BIN, ['--defaults-torrc', empty, '-f', torrc], { stdio: ['ignore', 'ignore', 'ignore'] })
    // wait for the control port (at most 30 s)
    const deadline = Date.now() + 30_000
    for (;;) {
      const up = await new Promise<boolean>(resolve => {
        const s = netConnect({ host: '127.0.0.1', port: controlPort }, () => { s.destroy(); resolve(true) })
        s.once('error', () => { resolve(false) })
      })
      if (up) break
      if (Date.now() > deadline) throw new Error('tor did not open its control port within 30 s')
      await new Promise(resolve => setTimeout(resolve, 200))
    }
  }, 60_000)
  afterAll(async () => {
    if (tor?.pid != null && tor.exitCode == null) {
      const gone = new Promise(resolve => tor?.once('exit', resolve))
      tor.kill('SIGTERM')
      await gone
    }
    await home?.cleanup()
  })

  async function torRow (args: string[], env: Record<string, string> = {}, stdin?: string): Promise<{ status: string, reason: string, stderr: string }> {
    const proc = new BeamProcess(['backends', '--json', '--tor-control', `127.0.0.1:${controlPort}`, ...args], { BEAM_HOME: home.dir, ...env }, (argv, fullEnv) =>
      spawn(argv[0] ?? process.execPath, argv.slice(1), { env: { ...process.env, ...fullEnv }, stdio: ['pipe', 'pipe', 'pipe'] }))
    proc.child.stdin?.end(stdin ?? '')
    const t = setTimeout(() => { proc.child.kill('SIGKILL') }, 30_000)
    const r = await proc.exited
    clearTimeout(t)
    expect(r.code, proc.stderr).toBe(0)
    const row = proc.events.find(e => e.event === 'backend' && e.name === 'tor')
    return { status: String(row?.status), reason: String(row?.reason), stderr: proc.stderr }
  }

  it.skipIf(!haveTor)('authenticates with the password from a file, from standard input and from BEAM_TOR_PASSWORD as with --tor-password', async () => {
    const file = join(home.dir, 'tor-password')
    await writeFile(file, `${password}\n`, { mode: 0o600 })
    const inline = await torRow(['--tor-password', password])
    expect(inline.status, inline.reason).toBe('ready')
    for (const r of [
      await torRow(['--tor-password-file', file]),
      await torRow(['--tor-password-file', '-'], {}, `${password}\n`),
      await torRow([], { BEAM_TOR_PASSWORD: password })
    ]) {
      expect(r.status, r.reason).toBe('ready')
      expect(r.stderr).not.toContain(password)
    }
    // a wrong password in the file is refused by tor, and not printed
    const wrongFile = join(home.dir, 'wrong')
    await writeFile(wrongFile, 'wrong-hunter2\n')
    const wrong = await torRow(['--tor-password-file', wrongFile])
    expect(wrong.status).toBe('not-running')
    expect(wrong.reason).toMatch(/refuses beam/)
    expect(`${wrong.reason}${wrong.stderr}`).not.toContain('hunter2')
  }, 90_000)
})

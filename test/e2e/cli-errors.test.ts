import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { runBeam, startShare, tempHome, LOOPBACK_LISTEN, OFFLINE } from '../helpers/beam.ts'
import type { BeamProcess } from '../helpers/beam.ts'
import { startHttpService } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

// Bad input: one line on stderr starting 'beam: ', a distinct exit code, never
// a stack trace; with --json an 'error' event on stdout.

function oneLineError (stderr: string): void {
  const lines = stderr.split('\n').filter(l => l.startsWith('beam: '))
  expect(lines.length).toBeGreaterThanOrEqual(1)
  expect(stderr).not.toMatch(/^\s+at /m)
}

describe('bad input and failures of the CLI', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  let http: TestHttp
  let share: BeamProcess
  let connect = ''
  let peerId = ''

  beforeAll(async () => {
    home = await tempHome()
    http = await startHttpService()
    const s = await startShare([String(http.port)], join(home.dir, 'share'))
    share = s.proc
    connect = s.connect
    peerId = s.peerId
  })

  afterAll(async () => {
    await share?.stop()
    await http?.close()
    await home?.cleanup()
  })

  const env = (): Record<string, string> => ({ BEAM_HOME: join(home.dir, 'c') })

  it.each([['0'], ['70000'], ['abc'], ['-5']])('share port %s exits 3', async (port) => {
    const r = await runBeam(['share', port, ...OFFLINE], env())
    expect(r.code).toBe(3)
    oneLineError(r.stderr)
  })

  it('connect --port 70000 and --remote abc exit 3, with a JSON error event', async () => {
    const a = await runBeam(['connect', connect, '--port', '70000', ...OFFLINE, '--json'], env())
    expect(a.code).toBe(3)
    expect(JSON.parse(a.stdout.trim().split('\n').pop() ?? '{}')).toMatchObject({ event: 'error', code: 'invalid-port' })
    const b = await runBeam(['connect', connect, '--remote', 'abc', ...OFFLINE], env())
    expect(b.code).toBe(3)
    oneLineError(b.stderr)
  })

  it('an invalid peer id or connect string exits 4', async () => {
    const flip = connect.slice(0, 30) + (connect[30] === 'a' ? 'b' : 'a') + connect.slice(31)
    for (const target of ['not-a-peer', 'beamzzzz!!', flip, `beam${'q'.repeat(80)}`]) {
      const r = await runBeam(['connect', target, ...OFFLINE], env())
      expect(r.code, target).toBe(4)
      oneLineError(r.stderr)
    }
  })

  it('usage mistakes exit 2', async () => {
    for (const args of [['share', '3000', '--frobnicate'], ['share'], ['connect'], ['share', '3000', '--public', '--allow', peerId], ['nonsense']]) {
      const r = await runBeam([...args, ...OFFLINE], env())
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(/^beam: /m)
      expect(r.stderr).not.toMatch(/^\s+at /m)
    }
  })

  it('bad multiaddrs exit 7 before anything is dialled', async () => {
    const a = await runBeam(['share', '3000', '--listen', '/bogus', ...OFFLINE], env())
    expect(a.code).toBe(7)
    const started = Date.now()
    const b = await runBeam(['connect', connect, '--bootstrap', '/ip4/127.0.0.1/tcp/1'], env())
    expect(b.code).toBe(7)
    expect(Date.now() - started).toBeLessThan(10_000)
    oneLineError(b.stderr)
  })

  it('a local port in use exits 5', async () => {
    const blocker = createServer()
    await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
    try {
      const port = (blocker.address() as AddressInfo).port
      const r = await runBeam(['connect', connect, '--port', String(port), ...OFFLINE], env())
      expect(r.code).toBe(5)
      expect(r.stderr).toMatch(/already in use/)
      oneLineError(r.stderr)
    } finally {
      blocker.close()
    }
  })

  it('a corrupt or unreadable identity exits 6', async () => {
    const bad = join(home.dir, 'bad-identity.json')
    await writeFile(bad, '{not json')
    const a = await runBeam(['id', '--identity', bad], env())
    expect(a.code).toBe(6)
    oneLineError(a.stderr)
    const dir = join(home.dir, 'a-directory')
    await mkdir(dir)
    const b = await runBeam(['id', '--identity', dir], env())
    expect(b.code).toBe(6)
  })

  it('a bare peer id without a known address exits 8; a port that is not shared exits 11', async () => {
    const a = await runBeam(['connect', peerId, ...OFFLINE], env())
    expect(a.code).toBe(8)
    oneLineError(a.stderr)
    const b = await runBeam(['connect', connect, '--remote', '9', ...OFFLINE], env())
    expect(b.code).toBe(11)
    expect(b.stderr).toMatch(/not shared/)
  })

  it('a share that is not running exits 9 within the timeout', async () => {
    const gone = await tempHome()
    try {
      const s = await startShare(['1'], gone.dir)
      const cs = s.connect
      await s.proc.stop()
      const started = Date.now()
      const r = await runBeam(['connect', cs, '--timeout', '3000', ...OFFLINE], env())
      expect(r.code).toBe(9)
      expect(Date.now() - started).toBeLessThan(15_000)
      oneLineError(r.stderr)
    } finally {
      await gone.cleanup()
    }
  })

  it('help and version exit 0', async () => {
    const a = await runBeam(['--help'])
    expect(a.code).toBe(0)
    expect(a.stdout).toMatch(/share/)
    const b = await runBeam(['share', '--help'])
    expect(b.code).toBe(0)
    expect(b.stdout).toMatch(/--public/)
    const c = await runBeam(['--version'])
    expect(c.code).toBe(0)
    expect(c.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })
})

// keep the helper import used when the share args change
void LOOPBACK_LISTEN

import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import { runBeam, startShare, startConnect, tempHome, OFFLINE } from '../helpers/beam.ts'
import type { BeamEvent } from '../helpers/beam.ts'
import { startTcpService, tcpConnect, readAll } from '../helpers/services.ts'

// `beam share --max-tunnels-per-peer` through the real CLI on 127.0.0.1: a
// tunnel past the cap is answered OVERLOADED; the connector reports it as a
// tunnel-failed event, and a `beam connect` whose start-up probe gets it
// exits 14 with one clear line.

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

describe('beam share --max-tunnels-per-peer', () => {
  it('a tunnel past the cap fails with ShareOverloadedError, and a new beam connect of the same peer exits 14', { timeout: 120_000 }, async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const echo = await startTcpService(s => { s.pipe(s) })
    cleanups.push(echo.close)
    const s = await startShare([String(echo.port), '--max-tunnels-per-peer', '1'], join(home.dir, 's'))
    cleanups.push(async () => { await s.proc.stop() })
    // both connects run from one BEAM_HOME: one identity, one peer
    const connectHome = join(home.dir, 'c')
    const c = await startConnect(s.connect, [], connectHome)
    cleanups.push(async () => { await c.proc.stop() })

    // the first client holds the peer's one tunnel
    const held = await tcpConnect(c.port)
    held.on('error', () => {})
    cleanups.push(async () => { held.destroy() })
    held.write('hold')
    await new Promise<void>((resolve, reject) => {
      held.once('data', () => { resolve() })
      held.once('close', () => { reject(new Error('the first tunnel closed')) })
    })

    // the second is refused at once: its socket is reset without data
    const second = await tcpConnect(c.port)
    second.write('hello?')
    const r = await readAll(second, 10_000)
    expect(r.data.length).toBe(0)
    const failed: BeamEvent = await c.proc.waitFor('tunnel-failed', 10_000)
    expect(failed.code).toBe('ShareOverloadedError')
    expect(String(failed.message)).toMatch(/^the share is overloaded: too many tunnels from this peer \(at most 1 at once\)/)
    expect(c.proc.child.exitCode).toBeNull()

    // a new connect of the same peer: its probe gets OVERLOADED; exit 14 before binding a port
    const again = await runBeam(['connect', s.connect, ...OFFLINE, '--json'], { BEAM_HOME: connectHome })
    const what = `stdout: ${again.stdout}\nstderr: ${again.stderr.slice(-2000)}`
    expect(again.code, what).toBe(14)
    const lines = again.stderr.split('\n').filter(l => l.trim() !== '' && !l.startsWith('{'))
    expect(lines, what).toHaveLength(1)
    expect(lines[0], what).toMatch(/^beam: the share is overloaded: too many tunnels from this peer/)
    const events = again.stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as BeamEvent)
    expect(events.find(e => e.event === 'error'), what).toMatchObject({ event: 'error', code: 'overloaded' })
    expect(events.some(e => e.event === 'listening'), what).toBe(false)

    // the held tunnel is untouched
    held.write('still there')
    const echoed = await new Promise<string>(resolve => { held.once('data', (d: Buffer) => { resolve(d.toString()) }) })
    expect(echoed).toBe('still there')
  })

  it('rejects a cap that is not a whole number from 1 (exit 2)', async () => {
    const home = await tempHome()
    cleanups.push(home.cleanup)
    for (const bad of [['--max-tunnels', '0'], ['--max-tunnels-per-peer', 'many']]) {
      const r = await runBeam(['share', '3000', ...bad, ...OFFLINE], { BEAM_HOME: home.dir })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(`invalid ${bad[0] ?? ''} '${bad[1] ?? ''}'`)
    }
  })
})

/**
 * A local client that resets its connection at the end (load tools do: wrk,
 * ab) ends its tunnel normally: `beam connect`'s `tunnel-close` has no
 * `error` but `reason: "client-reset"`, and nothing is logged as a warning.
 * A real failure, the shared service resetting in the middle of an answer,
 * stays an error. Real sockets on loopback through a real tunnel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect as netConnect } from 'node:net'
import { startConnect, startShare, tempHome } from '../helpers/beam.ts'
import type { BeamProcess } from '../helpers/beam.ts'
import { startTcpService } from '../helpers/services.ts'

let service: Awaited<ReturnType<typeof startTcpService>>
let share: BeamProcess
let conn: { proc: BeamProcess, port: number }
const homes: Array<{ cleanup: () => Promise<void> }> = []

beforeAll(async () => {
  // answers 'pong' to each request; to 'fail' it sends part of an answer and resets
  service = await startTcpService(s => {
    s.on('data', (d: Buffer) => {
      if (d.toString().startsWith('fail')) { s.write('part of an answer'); setTimeout(() => { s.resetAndDestroy() }, 50) } else s.write('pong')
    })
    s.on('end', () => { s.end() })
  })
  const h1 = await tempHome()
  const h2 = await tempHome()
  homes.push(h1, h2)
  const started = await startShare([String(service.port), '--ephemeral'], h1.dir)
  share = started.proc
  conn = await startConnect(started.connect, ['--ephemeral'], h2.dir)
})
afterAll(async () => {
  await conn?.proc.stop()
  await share?.stop()
  await service?.close()
  for (const h of homes) await h.cleanup()
})

/** Send `request` through the tunnel; once the first answer bytes arrive, reset (RST) the connection. */
async function requestThenReset (request: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port: conn.port })
    s.on('connect', () => { s.write(request) })
    s.on('data', (d: Buffer) => { s.resetAndDestroy(); resolve(d.toString()) })
    s.on('error', reject)
    setTimeout(() => { s.destroy(); reject(new Error('no answer within 20 s')) }, 20_000).unref()
  })
}

/** Warnings and errors in a process's JSON log (level 40 and above). */
function warnings (stderr: string): string[] {
  return stderr.split('\n').filter(l => l.startsWith('{')).filter(l => (JSON.parse(l) as { level: number }).level >= 40)
}

describe('a reset by the local client', () => {
  it('is a normal end: tunnel-close without error, with reason client-reset; no warning', async () => {
    const from = conn.proc.events.length
    expect(await requestThenReset('ping')).toBe('pong')
    const close = await conn.proc.waitFor('tunnel-close', 10_000, () => true, from)
    expect(close.error).toBeUndefined()
    expect(close.reason).toBe('client-reset')
    expect(close.sent).toBe(4)
    expect(close.received).toBe(4)
    expect(warnings(conn.proc.stderr)).toEqual([])
  })

  it('a service that resets mid-answer is still an error, at the connector too', async () => {
    const from = conn.proc.events.length
    const got = await new Promise<{ data: string, error?: string }>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: conn.port })
      let data = ''
      s.on('connect', () => { s.write('fail') })
      s.on('data', (d: Buffer) => { data += d.toString() })
      s.on('error', (e: NodeJS.ErrnoException) => { resolve({ data, error: e.code ?? e.message }) })
      s.on('end', () => { resolve({ data }) })
    })
    // the reset reaches the client as a reset, never as a clean end
    expect(got.error).toBe('ECONNRESET')
    const close = await conn.proc.waitFor('tunnel-close', 10_000, () => true, from)
    expect(typeof close.error).toBe('string')
    expect(close.reason).toBeUndefined()
    const shareClose = await share.waitFor('tunnel-close', 10_000, e => e.error != null && String(e.error).includes('ECONNRESET'))
    expect(shareClose.reason).toBeUndefined()
  })
})

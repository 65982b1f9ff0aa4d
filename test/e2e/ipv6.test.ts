/**
 * IPv6 spelling, end to end on ::1: `beam share [::1]:PORT` reaches a service
 * that listens on ::1 only; the unbracketed `::1:PORT` is a usage error that
 * says where the brackets go; the banner, the events and the logs write the
 * host bracketed, and the events carry host and port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, connect as netConnect } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { waitUntil } from '../helpers/wait.ts'
import { BeamProcess, LOOPBACK_LISTEN, OFFLINE, runBeam, startConnect, startShare, tempHome } from '../helpers/beam.ts'

let service: Server
let port = 0
let accepted = 0
const homes: Array<{ cleanup: () => Promise<void> }> = []

beforeAll(async () => {
  // an echo service on ::1 only: nothing on 127.0.0.1 answers for it
  service = createServer({ allowHalfOpen: true }, s => { accepted++; s.on('error', () => {}); s.pipe(s); s.on('end', () => { s.end() }) })
  await new Promise<void>(resolve => service.listen(0, '::1', resolve))
  port = (service.address() as AddressInfo).port
})
afterAll(async () => {
  await new Promise<void>(resolve => service.close(() => { resolve() }))
  for (const h of homes) await h.cleanup()
})

async function home (): Promise<string> {
  const h = await tempHome()
  homes.push(h)
  return h.dir
}

/** Send `text` to localhost:`p` (the address family of `host`) and read the echo to its end. */
async function echo (host: string, p: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = netConnect({ host, port: p, allowHalfOpen: true })
    let got = ''
    s.setEncoding('utf8')
    s.on('connect', () => { s.end(text) })
    s.on('data', (c: string) => { got += c })
    s.on('end', () => { s.end(); resolve(got) })
    s.on('error', reject)
    setTimeout(() => { s.destroy(); reject(new Error(`no echo within 20 s (got '${got}')`)) }, 20_000).unref()
  })
}

describe('IPv6 services', () => {
  it('share [::1]:PORT → a tunnel reaches the service on ::1; events carry the host, logs bracket it', async () => {
    const share = await startShare([`[::1]:${port}`, '--ephemeral'], await home())
    try {
      expect(share.ready.ports).toEqual([port])
      expect(share.ready.services).toEqual([{ host: '::1', port, address: `[::1]:${port}` }])
      const conn = await startConnect(share.connect, ['--ephemeral', '--host', '::1'], await home())
      try {
        const listening = conn.proc.events.find(e => e.event === 'listening')
        expect(listening?.host).toBe('::1')
        await waitUntil('the connector\'s log line', () => conn.proc.stderr.includes(`"listening on [::1]:${conn.port}"`), { timeoutMs: 10_000 })
        const before = accepted
        expect(await echo('::1', conn.port, 'over v6')).toBe('over v6')
        expect(accepted).toBe(before + 1)
        const open = await share.proc.waitFor('tunnel-open', 10_000)
        expect(open).toMatchObject({ host: '::1', port })
        const close = await share.proc.waitFor('tunnel-close', 10_000)
        expect(close).toMatchObject({ host: '::1', port })
        expect(share.proc.stderr).toContain(`[::1]:${port}`)
      } finally { await conn.proc.stop() }
    } finally { await share.proc.stop() }
  })

  it('the banner writes the service as [::1]:PORT', async () => {
    const p = new BeamProcess(['share', `[::1]:${port}`, '--ephemeral', ...LOOPBACK_LISTEN, ...OFFLINE], { BEAM_HOME: await home(), BEAM_LOG_LEVEL: 'warn' })
    try {
      const deadline = Date.now() + 30_000
      while (!p.stderr.includes('press Ctrl-C') && p.child.exitCode == null && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
      expect(p.stderr).toContain(`beam share: [::1]:${port}\n`)
    } finally { await p.stop() }
  })

  it('share ::1:PORT (no brackets) → exit 2 and one line saying where the brackets go', async () => {
    const r = await runBeam(['share', `::1:${port}`, '--ephemeral', ...OFFLINE], { BEAM_HOME: await home() })
    expect(r.code).toBe(2)
    const lines = r.stderr.split('\n').filter(l => l.trim() !== '' && !l.startsWith('{'))
    expect(lines).toEqual([`beam: invalid service '::1:${port}': an IPv6 address goes in brackets, as in [::1]:${port}`])
  })
})

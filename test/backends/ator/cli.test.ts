/**
 * beam CLI over a private ATOR network (anon): share → connect over an .anon
 * onion service with real beam processes, each under strace (the leak check
 * of ATOR-only mode, as for Tor), 8 MiB each way hashed with SHA-256 on both
 * ends; and `beam backends` telling anon from a missing binary.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest'
import { decodeConnectString } from '../../../src/peer/index.ts'
import { runBeam, tempHome } from '../../helpers/beam.ts'
import { startBlobServer, fetchThrough } from '../tor/blob.ts'
import type { BlobServer } from '../tor/blob.ts'
import { leaks, readTrace, startTraced, straceNeed } from '../strace.ts'
import { need, suiteNeeds } from '../../helpers/require-tools.ts'

const ator = inject('atorNetwork')
const anonBin = join(inject('anonDir'), 'anon')
const skipAtor = suiteNeeds('ATOR tests', need(ator != null, inject('atorSkipReason')))

describe.skipIf(skipAtor)('beam backends: ator', () => {
  it('is ready against the anon control port, and not-installed with the install hint when no anon binary is found', async () => {
    if (ator == null) throw new Error('no private ATOR network (the suite should have been skipped)')
    const c = ator.clients[1]
    if (c == null) throw new Error('too few anon clients')
    const home = await tempHome()
    try {
      const ready = await runBeam(['backends', '--json', '--ator-control', `127.0.0.1:${c.controlPort}`, '--anon-binary', anonBin], { BEAM_HOME: home.dir })
      const row = ready.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>).find(r => r.name === 'ator')
      expect(row?.status).toBe('ready')
      expect(String(row?.reason)).toMatch(/^anon 0\.4\.9\.\d+/)
      expect(row?.addressProtocols).toEqual(['anon3'])
      // a port nothing listens on, and a binary that does not exist
      const missing = await runBeam(['backends', '--json', '--ator-control', '127.0.0.1:1', '--anon-binary', join(home.dir, 'no-anon')], { BEAM_HOME: home.dir })
      const m = missing.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Record<string, unknown>).find(r => r.name === 'ator')
      expect(m?.status).toBe('not-installed')
      expect(String(m?.reason)).toContain('scripts/install-ator.sh')
    } finally {
      await home.cleanup()
    }
  })
})

describe.skipIf(skipAtor || suiteNeeds('ATOR leak check (strace)', straceNeed()))('beam share/connect --ator (CLI, private ATOR network)', () => {
  let blob: BlobServer
  const homes: Array<{ dir: string, cleanup: () => Promise<void> }> = []
  const up = randomBytes(8 * 1024 * 1024)

  beforeAll(async () => {
    blob = await startBlobServer(randomBytes(8 * 1024 * 1024))
  })
  afterAll(async () => {
    await blob?.close()
    for (const h of homes) await h.cleanup()
  })

  it('share → connect over an .anon onion service: 8 MiB each way, SHA-256 on both ends, and no socket beyond the anon ports', async () => {
    if (ator == null) throw new Error('no private ATOR network (the suite should have been skipped)')
    const [sharerAnon, connAnon] = ator.clients
    if (sharerAnon == null || connAnon == null) throw new Error('too few anon clients')
    const shareHome = await tempHome()
    const connHome = await tempHome()
    homes.push(shareHome, connHome)
    const share = startTraced(['share', String(blob.port), '--ator', '--ator-control', `127.0.0.1:${sharerAnon.controlPort}`, '--json'], { BEAM_HOME: shareHome.dir }, join(shareHome.dir, 'share.strace'))
    let connect: ReturnType<typeof startTraced> | undefined
    try {
      const start = Date.now()
      const ready = await share.proc.waitFor('ready', 60_000)
      const shareReadyMs = Date.now() - start
      const cs = String(ready.connect)
      // the connect string and the printed addresses carry the .anon service and nothing else
      const decoded = decodeConnectString(cs)
      expect(decoded.multiaddrs.length).toBe(1)
      expect(decoded.multiaddrs[0]?.toString()).toMatch(/^\/anon3\/[a-z2-7]{56}:4001$/)
      expect(ready.multiaddrs).toEqual([decoded.multiaddrs[0]?.toString()])
      expect(ready.backends).toEqual(['ator'])
      expect(JSON.stringify(ready)).not.toMatch(/\/ip[46]\//)

      const t0 = Date.now()
      connect = startTraced(['connect', cs, '--ator', '--ator-socks', `127.0.0.1:${connAnon.socksPort}`, '--timeout', '90000', '--json'], { BEAM_HOME: connHome.dir }, join(connHome.dir, 'connect.strace'))
      const listening = await connect.proc.waitFor('listening', 100_000).catch(async (err: Error) => {
        // what the two anon clients saw: the evidence for a circuit that stalls
        for (const c of [sharerAnon, connAnon]) process.stderr.write(`--- ${c.name} notice.log (last 40 lines) ---\n${await logTail(join(c.dataDir, 'notice.log'), 40)}\n`)
        throw err
      })
      const connectMs = Date.now() - t0
      const res = await fetchThrough(Number(listening.port), up)
      expect(res.received).toBe(8 * 1024 * 1024)
      expect(res.receivedSha).toBe(blob.sha)
      expect(await blob.lastUploadSha()).toBe(createHash('sha256').update(up).digest('hex'))
      const path = connect.proc.events.find(e => e.event === 'path')
      expect(path?.transport).toBe('ator')
      process.stderr.write(`ator cli: network bootstrapped in ${ator.bootstrapMs} ms; share ready (descriptor published) in ${shareReadyMs} ms; connect listening after ${connectMs} ms; 8 MiB each way in ${res.ms} ms (first byte ${res.firstByteMs} ms, ${(2 * 8 * 1.048576 / (res.ms / 1000)).toFixed(2)} MB/s both ways together); path rtt ${String(path?.rttMs)} ms\n`)
    } finally {
      await connect?.stop()
      await share.stop()
    }
    const shareTrace = await readTrace(share.traceFile)
    expect(shareTrace.lines).toBeGreaterThan(0)
    // the share talks to anon's control port and to the shared service, nothing else
    expect(leaks(shareTrace, [sharerAnon.controlPort, blob.port])).toEqual([])
    expect(shareTrace.inet.some(s => s.syscall === 'connect' && s.port === sharerAnon.controlPort)).toBe(true)
    expect(shareTrace.inet.filter(s => s.syscall === 'bind').every(s => s.address === '127.0.0.1')).toBe(true)
    if (connect == null) throw new Error('connect did not start')
    const connTrace = await readTrace(connect.traceFile)
    // the connector talks to anon's SOCKS port only
    expect(leaks(connTrace, [connAnon.socksPort])).toEqual([])
    expect(connTrace.inet.some(s => s.syscall === 'connect' && s.port === connAnon.socksPort)).toBe(true)
    expect(connTrace.inet.filter(s => s.syscall === 'bind').every(s => s.address === '127.0.0.1')).toBe(true)
  })
})

async function logTail (file: string, n: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-n).join('\n')
  } catch (err) {
    return `(cannot read ${file}: ${(err as Error).message})`
  }
}

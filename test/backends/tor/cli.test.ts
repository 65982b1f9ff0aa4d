/**
 * beam CLI over the private Tor network: share → connect over an onion
 * service with real beam processes, each under strace (the leak check of
 * Tor-only mode), 8 MiB each way hashed with SHA-256 on both ends.
 */
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { describe, it, expect, inject, beforeAll, afterAll } from 'vitest'
import { decodeConnectString } from '../../../src/peer/index.ts'
import { tempHome } from '../../helpers/beam.ts'
import { startBlobServer, fetchThrough } from './blob.ts'
import type { BlobServer } from './blob.ts'
import { leaks, readTrace, startTraced, straceNeed } from '../strace.ts'
import { need, suiteNeeds } from '../../helpers/require-tools.ts'
import type { Trace } from '../strace.ts'

const tor = inject('torNetwork')
const skipTor = suiteNeeds('Tor tests', need(tor != null, inject('torSkipReason')))

describe.skipIf(skipTor || suiteNeeds('Tor leak check (strace)', straceNeed()))('beam share/connect --tor (CLI, private Tor network)', () => {
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

  it('share → connect over an onion service: 8 MiB each way, SHA-256 on both ends, and no socket beyond the Tor ports', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const [sharerTor, connTor] = tor.clients
    if (sharerTor == null || connTor == null) throw new Error('too few Tor clients')
    const shareHome = await tempHome()
    const connHome = await tempHome()
    homes.push(shareHome, connHome)
    const share = startTraced(['share', String(blob.port), '--tor', '--tor-control', `127.0.0.1:${sharerTor.controlPort}`, '--json'], { BEAM_HOME: shareHome.dir }, join(shareHome.dir, 'share.strace'))
    let connect: ReturnType<typeof startTraced> | undefined
    try {
      const start = Date.now()
      const ready = await share.proc.waitFor('ready', 60_000)
      const shareReadyMs = Date.now() - start
      const cs = String(ready.connect)
      // the connect string and the printed addresses carry the onion and nothing else
      const decoded = decodeConnectString(cs)
      expect(decoded.multiaddrs.length).toBe(1)
      expect(decoded.multiaddrs[0]?.toString()).toMatch(/^\/onion3\/[a-z2-7]{56}:4001$/)
      expect(ready.multiaddrs).toEqual([decoded.multiaddrs[0]?.toString()])
      expect(JSON.stringify(ready)).not.toMatch(/\/ip[46]\//)

      const t0 = Date.now()
      connect = startTraced(['connect', cs, '--tor', '--tor-socks', `127.0.0.1:${connTor.socksPort}`, '--timeout', '90000', '--json'], { BEAM_HOME: connHome.dir }, join(connHome.dir, 'connect.strace'))
      const listening = await connect.proc.waitFor('listening', 100_000)
      const connectMs = Date.now() - t0
      const res = await fetchThrough(Number(listening.port), up)
      expect(res.received).toBe(8 * 1024 * 1024)
      expect(res.receivedSha).toBe(blob.sha)
      expect(await blob.lastUploadSha()).toBe(createHash('sha256').update(up).digest('hex'))
      const path = connect.proc.events.find(e => e.event === 'path')
      expect(path?.transport).toBe('tor')
      process.stderr.write(`cli: share ready (onion published) in ${shareReadyMs} ms; connect listening after ${connectMs} ms; 8 MiB each way in ${res.ms} ms (first byte ${res.firstByteMs} ms); path rtt ${String(path?.rttMs)} ms\n`)
    } finally {
      await connect?.stop()
      await share.stop()
    }
    const shareTrace = await readTrace(share.traceFile)
    expect(shareTrace.lines).toBeGreaterThan(0)
    // the share talks to tor's control port and to the shared service, nothing else
    expect(leaks(shareTrace, [sharerTor.controlPort, blob.port])).toEqual([])
    expect(shareTrace.inet.some(s => s.syscall === 'connect' && s.port === sharerTor.controlPort)).toBe(true)
    expect(shareTrace.inet.filter(s => s.syscall === 'bind').every(s => s.address === '127.0.0.1')).toBe(true)
    if (connect == null) throw new Error('connect did not start')
    const connTrace = await readTrace(connect.traceFile)
    // the connector talks to tor's SOCKS port only
    expect(leaks(connTrace, [connTor.socksPort])).toEqual([])
    expect(connTrace.inet.some(s => s.syscall === 'connect' && s.port === connTor.socksPort)).toBe(true)
    expect(connTrace.inet.filter(s => s.syscall === 'bind').every(s => s.address === '127.0.0.1')).toBe(true)
  })
})

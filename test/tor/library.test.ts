import { createHash, randomBytes } from 'node:crypto'
import { describe, it, expect, inject } from 'vitest'
import { createBeam, newAccessSecret, torBackend } from '../../src/index.ts'
import type { BeamNode } from '../../src/index.ts'
import { startBlobServer, fetchThrough } from './blob.ts'

const tor = inject('torNetwork')
const skip = tor == null

describe.skipIf(skip)('tor backend (library): two createBeam nodes over an onion service', () => {
  it('share → connect over /onion3, 8 MiB each way, SHA-256 on both ends; Tor-only mode announces only the onion', async () => {
    if (tor == null) return
    const sharerTor = tor.clients[0]
    const connTor = tor.clients[1]
    if (sharerTor == null || connTor == null) throw new Error('network has too few clients')
    const up = randomBytes(8 * 1024 * 1024)
    const blob = await startBlobServer(randomBytes(8 * 1024 * 1024))
    let sharer: BeamNode | undefined
    let connector: BeamNode | undefined
    try {
      sharer = await createBeam({
        backends: [torBackend({ controlPort: sharerTor.controlPort, socksPort: sharerTor.socksPort })],
        listenOnBackends: true
      })
      const addrs = sharer.getMultiaddrs().map(m => m.toString())
      expect(addrs.length).toBe(1)
      expect(addrs[0]).toMatch(/^\/onion3\/[a-z2-7]{56}:4001$/)
      const secret = newAccessSecret()
      await sharer.share({ services: [{ port: blob.port }], access: { mode: 'secret', secret } })
      const cs = sharer.connectString(secret)

      connector = await createBeam({ backends: [torBackend({ controlPort: connTor.controlPort, socksPort: connTor.socksPort })] })
      expect(connector.getMultiaddrs()).toEqual([])
      const tunnel = await connector.connect(cs, { dialTimeout: 90_000, signal: AbortSignal.timeout(90_000) })
      const res = await fetchThrough(tunnel.port, up)
      expect(tunnel.path?.transport).toBe('tor')
      expect(res.received).toBe(8 * 1024 * 1024)
      expect(res.receivedSha).toBe(blob.sha)
      expect(await blob.lastUploadSha()).toBe(createHash('sha256').update(up).digest('hex'))
      // the connector's libp2p connection goes over the onion, and only there
      const conns = connector.libp2p.getConnections()
      expect(conns.map(c => c.remoteAddr.toString()).every(a => a.startsWith('/onion3/'))).toBe(true)
      process.stderr.write(`library: 8 MiB each way over Tor in ${res.ms} ms, first byte after ${res.firstByteMs} ms\n`)
    } finally {
      await connector?.stop()
      await sharer?.stop()
      await blob.close()
    }
  })
})

describe.runIf(skip)('tor backend (library)', () => {
  it.skip(`skipped: ${inject('torSkipReason')}`, () => {})
})

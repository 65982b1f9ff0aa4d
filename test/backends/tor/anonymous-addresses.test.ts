/**
 * A Tor-only connector handed a connect string that carries, next to the
 * onion, addresses Tor does not carry (`/dnsaddr`, `/dns4`, `/ip4`) must not
 * resolve or dial any of them: libp2p resolves `/dnsaddr` before its
 * connection gater runs, so such an address once made a Tor-only
 * `beam connect` ask the system resolver for `_dnsaddr.<name>`.
 *
 * The connector runs under strace in a mount namespace whose /etc/resolv.conf
 * points at 127.0.0.1 (no query could leave the machine even on a leak); the
 * trace must show no UDP socket, nothing to port 53, no resolver socket, and
 * no connect but to tor's SOCKS port, and the tunnel must work over the onion.
 *
 * And identify: a Tor-only connector of a mixed (tor + direct) share learns
 * the share's IP addresses through identify; its peer store must keep only
 * the onion.
 */
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, it, expect, inject, afterAll } from 'vitest'
import { createBeam, decodeConnectString, directBackend, encodeConnectString, newAccessSecret, torBackend } from '../../../src/index.ts'
import type { BeamNode } from '../../../src/index.ts'
import { tempHome } from '../../helpers/beam.ts'
import { startBlobServer, fetchThrough } from './blob.ts'
import { UNSHARE_BIN, leaks, readTrace, startTraced, straceNeed } from '../strace.ts'
import { need, suiteNeeds } from '../../helpers/require-tools.ts'
import { existsSync } from 'node:fs'

const tor = inject('torNetwork')
const torNeed = need(tor != null, inject('torSkipReason'))
const skipLeak = suiteNeeds('Tor DNS leak test', [torNeed, straceNeed(), need(existsSync(UNSHARE_BIN) && process.getuid?.() === 0, `${UNSHARE_BIN} is missing or this is not root`)])
const skipTor = suiteNeeds('Tor tests', torNeed)

/** The addresses a hostile or careless connect string adds next to the onion. */
const CLEARNET = ['/dnsaddr/leak-test.invalid', '/dns4/leak-test.invalid/tcp/4001', '/ip4/192.0.2.7/tcp/4001']

describe.skipIf(skipLeak)('beam connect --tor with clearnet addresses in the connect string', () => {
  const homes: Array<{ dir: string, cleanup: () => Promise<void> }> = []
  afterAll(async () => {
    for (const h of homes) await h.cleanup()
  })

  it('resolves and dials none of them (strace: no DNS, no socket off loopback) and connects over the onion', async () => {
    if (tor == null) return
    const [sharerTor, connTor] = tor.clients
    if (sharerTor == null || connTor == null) throw new Error('too few Tor clients')
    const blob = await startBlobServer(randomBytes(256 * 1024))
    const shareHome = await tempHome()
    const connHome = await tempHome()
    homes.push(shareHome, connHome)
    const resolvConf = join(connHome.dir, 'resolv.conf')
    await writeFile(resolvConf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
    const share = startTraced(['share', String(blob.port), '--tor', '--tor-control', `127.0.0.1:${sharerTor.controlPort}`, '--json'], { BEAM_HOME: shareHome.dir }, join(shareHome.dir, 'share.strace'))
    let connect: ReturnType<typeof startTraced> | undefined
    try {
      const ready = await share.proc.waitFor('ready', 60_000)
      const cs = decodeConnectString(String(ready.connect))
      expect(cs.multiaddrs.map(m => m.toString())).toEqual([expect.stringMatching(/^\/onion3\//)])
      const mixed = encodeConnectString({ ...cs, multiaddrs: [...CLEARNET.map(a => multiaddr(a)), ...cs.multiaddrs] })
      expect(decodeConnectString(mixed).multiaddrs).toHaveLength(4)

      connect = startTraced(['connect', mixed, '--tor', '--tor-socks', `127.0.0.1:${connTor.socksPort}`, '--timeout', '90000', '--json'], { BEAM_HOME: connHome.dir }, join(connHome.dir, 'connect.strace'), { resolvConf })
      const listening = await connect.proc.waitFor('listening', 100_000)
      const up = randomBytes(64 * 1024)
      const res = await fetchThrough(Number(listening.port), up)
      expect(res.receivedSha).toBe(blob.sha)
      expect(await blob.lastUploadSha()).toBe(createHash('sha256').update(up).digest('hex'))
      expect(connect.proc.events.find(e => e.event === 'path')?.transport).toBe('tor')
    } finally {
      await connect?.stop()
      await share.stop()
      await blob.close()
    }
    if (connect == null) throw new Error('connect did not start')
    const trace = await readTrace(connect.traceFile)
    expect(trace.lines).toBeGreaterThan(0)
    expect(trace.udpSockets).toEqual([])
    expect(trace.inet.filter(s => s.port === 53).map(s => s.line)).toEqual([])
    expect(trace.unixConnects).toEqual([])
    expect(leaks(trace, [connTor.socksPort])).toEqual([])
    expect(trace.inet.some(s => s.syscall === 'connect' && s.port === connTor.socksPort)).toBe(true)
    // and says what it dropped
    expect(connect.proc.stderr).toMatch(/dropped 3 address\(es\) that tor does not carry/)
  })
})

describe.skipIf(skipTor)('a Tor-only connector of a tor+direct share', () => {
  it('keeps only the onion of what identify tells it', async () => {
    if (tor == null) return
    const [sharerTor, connTor] = tor.clients
    if (sharerTor == null || connTor == null) throw new Error('too few Tor clients')
    const blob = await startBlobServer(randomBytes(1024))
    let sharer: BeamNode | undefined
    let connector: BeamNode | undefined
    try {
      sharer = await createBeam({
        backends: [torBackend({ controlPort: sharerTor.controlPort, socksPort: sharerTor.socksPort }), directBackend],
        listen: ['/ip4/127.0.0.1/tcp/0'],
        listenOnBackends: true,
        dht: false
      })
      const secret = newAccessSecret()
      await sharer.share({ services: [{ port: blob.port }], access: { mode: 'secret', secret } })
      const all = sharer.getMultiaddrs().map(String)
      const onion = all.filter(a => a.startsWith('/onion3/'))
      expect(onion).toHaveLength(1)
      expect(all.some(a => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
      // the connect string names only the onion: IP addresses can come only through identify
      const cs = encodeConnectString({ peerId: sharer.peerId, secret, multiaddrs: onion.map(a => multiaddr(a)) })
      connector = await createBeam({ backends: [torBackend({ socksPort: connTor.socksPort })] })
      const sharerId = sharer.peerId
      const identified = new Promise<string[]>(resolve => {
        connector?.libp2p.addEventListener('peer:identify', e => {
          if (e.detail.peerId.equals(sharerId)) resolve(e.detail.listenAddrs.map(String))
        })
      })
      await connector.connect(cs, { dialTimeout: 90_000, signal: AbortSignal.timeout(90_000) })
      const told = await identified
      // the share did announce its IP address …
      expect(told.some(a => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
      // … and the connector kept none of it
      const kept = (await connector.libp2p.peerStore.get(sharerId)).addresses.map(a => a.multiaddr.toString())
      expect(kept).toEqual(onion)
    } finally {
      await connector?.stop()
      await sharer?.stop()
      await blob.close()
    }
  })
})

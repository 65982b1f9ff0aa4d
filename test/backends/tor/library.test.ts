import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { describe, it, expect, inject } from 'vitest'
import { createBeam, encodeConnectString, generateClientAuthKeys, newAccessSecret, torBackend, TorControl } from '../../../src/index.ts'
import type { BeamNode } from '../../../src/index.ts'
import { startBlobServer, fetchThrough } from './blob.ts'
import { startStallingSocks } from './stall-socks.ts'
import { need, suiteNeeds } from '../../helpers/require-tools.ts'

const tor = inject('torNetwork')
const skip = suiteNeeds('Tor tests', need(tor != null, inject('torSkipReason')))

describe.skipIf(skip)('tor backend (library): two createBeam nodes over an onion service', () => {
  it('share → connect over /onion3, 8 MiB each way, SHA-256 on both ends; Tor-only mode announces only the onion', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
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
      // what identify told each side about the other: no IP address anywhere
      const learnedBySharer = (await sharer.libp2p.peerStore.get(connector.peerId)).addresses.map(a => a.multiaddr.toString())
      const learnedByConnector = (await connector.libp2p.peerStore.get(sharer.peerId)).addresses.map(a => a.multiaddr.toString())
      expect([...learnedBySharer, ...learnedByConnector].filter(a => /\/ip[46]\/|\/dns/.test(a))).toEqual([])
      expect(learnedByConnector).toEqual([addrs[0]])
      expect(connector.getMultiaddrs().map(String).filter(a => !a.startsWith('/onion3/'))).toEqual([])
      process.stderr.write(`library: 8 MiB each way over Tor in ${res.ms} ms, first byte after ${res.firstByteMs} ms\n`)
    } finally {
      await connector?.stop()
      await sharer?.stop()
      await blob.close()
    }
  })
})


describe.skipIf(skip)('tor backend (library): a connector that starts before the onion is published', () => {
  it('keeps retrying while the descriptor is missing, says what it waits for, and gets through once the share is up', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const sharerTor = tor.clients[2]
    const connTor = tor.clients[1]
    if (sharerTor == null || connTor == null || sharerTor.password == null) throw new Error('network has too few clients')
    const home = await mkdtemp(join(tmpdir(), 'beam-tor-key-'))
    const keyFile = join(home, 'onion-key')
    // an onion address that exists but is not published: ADD_ONION then DEL_ONION at once
    const ctl = await TorControl.connect({ port: sharerTor.controlPort, password: sharerTor.password })
    const added = await ctl.addOnion({ virtualPort: 4001, target: '127.0.0.1:9' })
    await ctl.delOnion(added.serviceId)
    ctl.close()
    await writeFile(keyFile, `${added.privateKey ?? ''}\n`, { mode: 0o600 })
    const privateKey = await generateKeyPair('Ed25519')
    const secret = newAccessSecret()
    const cs = encodeConnectString({ peerId: peerIdFromPrivateKey(privateKey), multiaddrs: [multiaddr(`/onion3/${added.serviceId}:4001`)], secret })
    const blob = await startBlobServer(randomBytes(1024 * 1024))
    const lines: string[] = []
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s) } })
    let sharer: BeamNode | undefined
    let connector: BeamNode | undefined
    try {
      connector = await createBeam({ backends: [torBackend({ controlPort: connTor.controlPort, socksPort: connTor.socksPort })], logger: log })
      const dialing = connector.connect(cs, { dialTimeout: 100_000, signal: AbortSignal.timeout(100_000) })
      // let the connector meet the missing descriptor first
      const deadline = Date.now() + 30_000
      while (!lines.some(l => l.includes('waiting for')) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
      expect(lines.some(l => l.includes(`waiting for ${added.serviceId}.onion`))).toBe(true)
      const start = Date.now()
      sharer = await createBeam({
        privateKey,
        backends: [torBackend({ controlPort: sharerTor.controlPort, controlPassword: sharerTor.password, keyFile })],
        listenOnBackends: true
      })
      expect(sharer.getMultiaddrs().map(String)).toEqual([`/onion3/${added.serviceId}:4001`])
      await sharer.share({ services: [{ port: blob.port }], access: { mode: 'secret', secret } })
      const tunnel = await dialing
      const res = await fetchThrough(tunnel.port, Buffer.from('hello')).catch((err: Error) => {
        process.stderr.write(`library: transfer failed (${err.message}); connector log:\n${lines.join('')}`)
        throw err
      })
      if (res.received !== 1024 * 1024) process.stderr.write(`library: ${res.received} bytes received; connector log:\n${lines.join('')}`)
      expect(res.received).toBe(1024 * 1024)
      expect(res.receivedSha).toBe(blob.sha)
      process.stderr.write(`library: connector reached the onion ${Date.now() - start} ms after the share started (it retried meanwhile)\n`)
    } finally {
      await connector?.stop()
      await sharer?.stop()
      await blob.close()
      await rm(home, { recursive: true, force: true })
    }
  })
})

describe.skipIf(skip)('tor backend (library): a SOCKS attempt that tor never answers', () => {
  it('is dropped after attemptTimeout and retried at once on fresh credentials, which get through', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const [sharerTor, connTor] = tor.clients
    if (sharerTor == null || connTor == null) throw new Error('network has too few clients')
    const blob = await startBlobServer(randomBytes(256 * 1024))
    // the first SOCKS connection is read and never answered; later ones reach the real tor
    const socks = await startStallingSocks(connTor.socksPort, 1)
    const lines: string[] = []
    const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s) } })
    let sharer: BeamNode | undefined
    let connector: BeamNode | undefined
    try {
      sharer = await createBeam({ backends: [torBackend({ controlPort: sharerTor.controlPort })], listenOnBackends: true })
      await sharer.share({ services: [{ port: blob.port }], access: { mode: 'public' } })
      const onion = sharer.getMultiaddrs()[0]?.toString().split('/')[2]?.split(':')[0] ?? ''
      connector = await createBeam({ backends: [torBackend({ socksPort: socks.port, attemptTimeout: 3000 })], logger: log })
      const t0 = Date.now()
      const tunnel = await connector.connect(sharer.connectString(), { dialTimeout: 60_000, signal: AbortSignal.timeout(60_000) })
      const ms = Date.now() - t0
      const res = await fetchThrough(tunnel.port, Buffer.from('hi'))
      expect(res.receivedSha).toBe(blob.sha)
      expect(socks.connections.length).toBeGreaterThanOrEqual(2)
      const first = socks.connections[0]
      expect(first?.stalled).toBe(true)
      // beam closed the stalled attempt itself, after about attemptTimeout, and the next one opened at once
      expect(first?.closedAt).toBeDefined()
      const held = (first?.closedAt ?? 0) - (first?.openedAt ?? 0)
      expect(held).toBeGreaterThanOrEqual(2900)
      expect(held).toBeLessThan(10_000)
      expect((socks.connections[1]?.openedAt ?? 0) - (first?.closedAt ?? 0)).toBeLessThan(1000)
      expect(lines.some(l => l.includes(`Tor has not reached ${onion}.onion within 3 s; trying again on fresh circuits`))).toBe(true)
      process.stderr.write(`library: stalled attempt dropped after ${held} ms; tunnel up ${ms} ms after the dial began\n`)
    } finally {
      await connector?.stop()
      await sharer?.stop()
      await socks.close()
      await blob.close()
    }
  })
})

describe.skipIf(skip)('tor backend (library): onion client authorization', () => {
  it('a share with ClientAuthV3 keys is unreachable without the private key and reachable with it', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const [sharerTor, connTor] = tor.clients
    if (sharerTor == null || connTor == null) throw new Error('network has too few clients')
    const keys = generateClientAuthKeys()
    const blob = await startBlobServer(randomBytes(64 * 1024))
    let sharer: BeamNode | undefined
    const connectors: BeamNode[] = []
    try {
      sharer = await createBeam({ backends: [torBackend({ controlPort: sharerTor.controlPort, clientAuth: [keys.publicKey] })], listenOnBackends: true })
      await sharer.share({ services: [{ port: blob.port }], access: { mode: 'public' } })
      const cs = sharer.connectString()
      const onion = sharer.getMultiaddrs()[0]?.toString().split('/')[2]?.split(':')[0] ?? ''
      // without the key: Tor cannot read the descriptor, and says so (no endless retry)
      const without = await createBeam({ backends: [torBackend({ socksPort: connTor.socksPort })] })
      connectors.push(without)
      const err = await without.connect(cs, { dialTimeout: 60_000, signal: AbortSignal.timeout(60_000) }).then(() => undefined, (e: Error) => e)
      expect(err?.message).toMatch(/client authorization/)
      // with the key (handed to the connector's tor through its control port)
      const withKey = await createBeam({ backends: [torBackend({ socksPort: connTor.socksPort, controlPort: connTor.controlPort, clientAuthKeys: { [onion]: keys.privateKey } })] })
      connectors.push(withKey)
      const tunnel = await withKey.connect(cs, { dialTimeout: 60_000, signal: AbortSignal.timeout(60_000) })
      const res = await fetchThrough(tunnel.port, Buffer.from('hi'))
      expect(res.receivedSha).toBe(blob.sha)
    } finally {
      for (const c of connectors) await c.stop()
      await sharer?.stop()
      await blob.close()
    }
  })
})

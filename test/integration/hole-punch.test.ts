/**
 * The share's side of /beam/punch/1.0.0 (src/peer/share/punch.ts) with real
 * beam nodes on 127.0.0.1: it punches only for peers its access policy
 * admits, at most 3 times per peer in 10 minutes, and not at all when
 * turned off. Both nodes' NATs are "endpoint-independent" on loopback (two
 * local STUN servers see one address), so an admitted offer ends in
 * NOT_NEEDED before any probe: no datagram goes anywhere but the local STUN
 * servers. The punch itself, across real NATs, is test/lab/hole-punch.test.ts
 * and case 3 of test/lab/nat-traversal.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { createBeam, newAccessSecret } from 'beam'
import type { BeamInit, BeamNode } from 'beam'
import { startStunServer } from '../../src/relay/index.ts'
import { PUNCH_PROTOCOL, PunchNat, PunchStatus, accessProof } from '../../src/signaling/index.ts'
import { PunchRefusedError, initiatePunch } from '../../src/peer/punch/index.ts'
import { PUNCH_ATTEMPTS_PER_PEER } from '../../src/peer/share/punch.ts'
import { startTcpService } from '../helpers/services.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function stunPair (): Promise<{ urls: string[], first: { ip: string, port: number } }> {
  const s1 = await startStunServer({ host: '127.0.0.1', port: 0 })
  const s2 = await startStunServer({ host: '127.0.0.1', port: 0 })
  cleanups.push(async () => { await s1.close(); await s2.close() })
  return { urls: [`stun:127.0.0.1:${s1.port}`, `stun:127.0.0.1:${s2.port}`], first: { ip: '127.0.0.1', port: s1.port } }
}

async function beam (init: BeamInit): Promise<BeamNode> {
  const n = await createBeam({ dht: false, bootstrap: [], webrtcBindAddress: '127.0.0.1', ...init })
  cleanups.push(async () => { await n.stop() })
  return n
}

async function share (stun: string[], secret: Uint8Array, init: BeamInit = {}): Promise<BeamNode> {
  const svc = await startTcpService(s => { s.pipe(s) })
  cleanups.push(svc.close)
  const n = await beam({ listen: ['/ip4/127.0.0.1/tcp/0'], iceServers: [{ urls: stun }], ...init })
  await n.share({ services: [{ port: svc.port }], access: { mode: 'secret', secret } })
  return n
}

describe('share: /beam/punch/1.0.0 rules', () => {
  it('refuses a peer without the access secret, admits one with it (NOT_NEEDED between two easy NATs), and caps each peer at 3 per 10 min', async () => {
    const stun = await stunPair()
    const secret = newAccessSecret()
    const s = await share(stun.urls, secret)
    const c = await beam({ listen: [], transports: { webrtc: false } })
    const conn = await c.libp2p.dial(multiaddr(`${s.getMultiaddrs()[0]?.toString() ?? ''}`), { signal: AbortSignal.timeout(10_000) })
    const ask = async (proof?: Uint8Array): Promise<number> => {
      const stream = await conn.newStream(PUNCH_PROTOCOL, { signal: AbortSignal.timeout(10_000), runOnLimitedConnection: true })
      try {
        await initiatePunch(stream, { nat: PunchNat.EASY, stun: stun.first, signal: AbortSignal.timeout(10_000), ...(proof != null ? { proof } : {}) })
        return -1
      } catch (err) {
        expect(err).toBeInstanceOf(PunchRefusedError)
        return (err as PunchRefusedError).status
      }
    }
    // no proof, and a proof made with another secret: refused before anything else
    expect(await ask()).toBe(PunchStatus.UNAUTHORIZED)
    expect(await ask(accessProof(newAccessSecret(), c.libp2p.peerId.toMultihash().bytes, s.libp2p.peerId.toMultihash().bytes))).toBe(PunchStatus.UNAUTHORIZED)
    const proof = accessProof(secret, c.libp2p.peerId.toMultihash().bytes, s.libp2p.peerId.toMultihash().bytes)
    for (let i = 0; i < PUNCH_ATTEMPTS_PER_PEER; i++) expect(await ask(proof)).toBe(PunchStatus.NOT_NEEDED)
    expect(await ask(proof)).toBe(PunchStatus.RATE_LIMITED)
  }, 60_000)

  it('does not serve the protocol with holePunch: false, nor without two STUN servers', async () => {
    const stun = await stunPair()
    const secret = newAccessSecret()
    const off = await share(stun.urls, secret, { holePunch: false })
    const oneStun = await share(stun.urls.slice(0, 1), secret)
    const c = await beam({ listen: [], transports: { webrtc: false } })
    for (const s of [off, oneStun]) {
      const conn = await c.libp2p.dial(multiaddr(`${s.getMultiaddrs()[0]?.toString() ?? ''}`), { signal: AbortSignal.timeout(10_000) })
      await expect(conn.newStream(PUNCH_PROTOCOL, { signal: AbortSignal.timeout(10_000), runOnLimitedConnection: true })).rejects.toThrow()
    }
  }, 60_000)
})

/**
 * Rollback of signed records: an older record, validly signed by the owner
 * (kept from earlier, or replayed), must not replace a newer one on the DHT
 * servers. kad-dht stores every PUT_VALUE its validator accepts; beam's
 * guarded record store (src/peer/discovery/record-store.ts) keeps the newer one.
 * Real libp2p nodes on loopback: three DHT servers, the owner, someone who
 * replays the old record, and a reader (all three clients).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createBeam, recordKey, signRecord, validateRecord } from 'beam'
import type { BeamNode } from 'beam'
import type { PrivateKey } from '@libp2p/interface'

const LISTEN = ['/ip4/127.0.0.1/tcp/0']
const nodes: BeamNode[] = []
let servers: BeamNode[] = []
let ownerKey: PrivateKey
let owner: BeamNode
let replayer: BeamNode
let reader: BeamNode

async function node (init: Parameters<typeof createBeam>[0]): Promise<BeamNode> {
  const n = await createBeam({ transports: { webrtc: false, quic: false }, iceServers: [], ...init })
  nodes.push(n)
  return n
}

const addrOf = (n: BeamNode): string => `${n.getMultiaddrs()[0]?.toString() ?? ''}/p2p/${n.peerId.toString()}`

/** The record value each server holds for `key` in its own store (no network query), decoded. */
async function stored (key: Uint8Array): Promise<Array<string | null>> {
  return await Promise.all(servers.map(async s => {
    const dht = s.libp2p.services.dht as { contentFetching: { getLocal: (k: Uint8Array) => Promise<{ value: Uint8Array }> } }
    try {
      return Buffer.from((await validateRecord(key, (await dht.contentFetching.getLocal(key)).value)).value).toString()
    } catch {
      return null
    }
  }))
}

beforeAll(async () => {
  const s1 = await node({ listen: LISTEN, dht: { server: true } })
  const s2 = await node({ listen: LISTEN, dht: { server: true }, bootstrap: [multiaddr(addrOf(s1))] })
  const s3 = await node({ listen: LISTEN, dht: { server: true }, bootstrap: [multiaddr(addrOf(s1)), multiaddr(addrOf(s2))] })
  servers = [s1, s2, s3]
  const boot = servers.map(s => multiaddr(addrOf(s)))
  ownerKey = await generateKeyPair('Ed25519')
  owner = await node({ privateKey: ownerKey, bootstrap: boot })
  replayer = await node({ bootstrap: boot })
  reader = await node({ bootstrap: boot })
  for (const n of [owner, replayer, reader]) await n.waitForDhtPeer(AbortSignal.timeout(20_000))
}, 60_000)

afterAll(async () => {
  await Promise.all(nodes.map(async n => { await n.stop() }))
})

describe('record rollback', () => {
  it('a validly signed older record put after a newer one does not replace it: readers get the newer', async () => {
    const key = recordKey(owner.peerId.toString(), 'profile')
    // the owner signed seq 1 once (someone kept it), then published an update
    const old = await signRecord(ownerKey, key, Buffer.from('v1'), 1, Date.now() + 3600_000)
    const current = await owner.records.put('profile', Buffer.from('v2'))
    expect(current.seq).toBeGreaterThan(1)
    expect(await stored(key)).toEqual(['v2', 'v2', 'v2'])
    // the old record goes straight to the servers (kad-dht PUT_VALUE)
    // (servers refuse it without an answer; kad-dht's put reports nothing back)
    await expect(replayer.libp2p.contentRouting.put(key, old, { signal: AbortSignal.timeout(20_000) })).resolves.toBeUndefined()
    const got = await reader.records.get(owner.peerId, 'profile', { signal: AbortSignal.timeout(20_000) })
    expect(got.seq).toBe(current.seq)
    expect(Buffer.from(got.value).toString()).toBe('v2')
    expect(await stored(key)).toEqual(['v2', 'v2', 'v2'])
    // and a newer one still replaces it
    const next = await owner.records.put('profile', Buffer.from('v3'))
    expect(await stored(key)).toEqual(['v3', 'v3', 'v3'])
    expect((await reader.records.get(owner.peerId, 'profile', { signal: AbortSignal.timeout(20_000) })).seq).toBe(next.seq)
  }, 90_000)
})

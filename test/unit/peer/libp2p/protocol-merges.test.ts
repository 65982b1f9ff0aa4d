/**
 * protocol-merges.ts on a real libp2p peer store (a node that is built, not
 * started): a merge of protocols the peer already has is answered from
 * memory, anything that may change the record makes the next one a write.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { protocolMerges } from '../../../../src/peer/libp2p/protocol-merges.ts'
import type { ProtocolMerges, ProtocolMergesInit } from '../../../../src/peer/libp2p/protocol-merges.ts'

const nodes: Libp2p[] = []
afterEach(async () => { for (const n of nodes.splice(0)) await n.stop() })

async function store (init: ProtocolMergesInit = {}): Promise<{ node: Libp2p<{ merges: ProtocolMerges }>, peer: PeerId }> {
  const node = await createLibp2p({ start: false, services: { merges: protocolMerges(init) } })
  nodes.push(node)
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return { node, peer }
}

describe('protocolMerges', () => {
  it('answers a merge of a protocol the peer already has from memory, with the stored peer', async () => {
    const { node, peer } = await store()
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    const again = await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    expect(node.services.merges.skipped).toBe(1)
    expect(again.protocols).toEqual(['/a/1'])
    expect((await node.peerStore.get(peer)).protocols).toEqual(['/a/1'])
  })

  it('writes a protocol the peer does not have yet', async () => {
    const { node, peer } = await store()
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    await node.peerStore.merge(peer, { protocols: ['/b/1'] })
    expect(node.services.merges.skipped).toBe(0)
    expect((await node.peerStore.get(peer)).protocols).toEqual(['/a/1', '/b/1'])
  })

  it('writes again after the record changed (a patch that drops the protocol, a delete)', async () => {
    const { node, peer } = await store()
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    await node.peerStore.patch(peer, { protocols: ['/b/1'] })
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    expect(node.services.merges.skipped).toBe(0)
    expect((await node.peerStore.get(peer)).protocols).toEqual(['/a/1', '/b/1'])
    await node.peerStore.delete(peer)
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    expect(node.services.merges.skipped).toBe(0)
    expect((await node.peerStore.get(peer)).protocols).toEqual(['/a/1'])
  })

  it('passes every other merge to the store, and trusts memory only for ttlMs', async () => {
    const { node, peer } = await store({ ttlMs: 0 })
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    expect(node.services.merges.skipped).toBe(0)
    const { node: other, peer: p2 } = await store()
    await other.peerStore.merge(p2, { protocols: ['/a/1'] })
    await other.peerStore.merge(p2, { protocols: ['/a/1'], metadata: { k: new Uint8Array([1]) } })
    expect(other.services.merges.skipped).toBe(0)
    expect((await other.peerStore.get(p2)).metadata.get('k')).toEqual(new Uint8Array([1]))
  })

  it('remembers at most maxPeers peers', async () => {
    const { node, peer } = await store({ maxPeers: 1 })
    const { peer: second } = await store()
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    await node.peerStore.merge(second, { protocols: ['/a/1'] })
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    expect(node.services.merges.skipped).toBe(0)
    await node.peerStore.merge(peer, { protocols: ['/a/1'] })
    expect(node.services.merges.skipped).toBe(1)
  })
})

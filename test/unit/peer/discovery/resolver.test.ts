/**
 * PeerResolver (src/peer/discovery/resolver.ts): what it refuses before any
 * lookup, where it takes a target's addresses from, and what an
 * anonymous-only node drops. Real libp2p nodes that are never dialled; the
 * DHT presence is a small stand-in that says whether a DHT runs.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { PeerResolver } from '../../../../src/peer/discovery/resolver.ts'
import type { LookupProgress, PeerResolverInit } from '../../../../src/peer/discovery/resolver.ts'
import { knownAddresses } from '../../../../src/peer/discovery/known-addresses.ts'
import { AddressBook, createBeam, silentLogger } from '../../../../src/peer/index.ts'
import type { BeamNode } from '../../../../src/peer/index.ts'

let node: BeamNode
let dir = ''
beforeAll(async () => {
  node = await createBeam({ dht: false })
  dir = await mkdtemp(join(tmpdir(), 'beam-resolver-'))
})
afterAll(async () => {
  await node.stop()
  await rm(dir, { recursive: true, force: true })
})

async function otherPeer (): Promise<ReturnType<typeof peerIdFromPrivateKey>> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

function resolver (over: Partial<PeerResolverInit> = {}, lookups: LookupProgress[] = []): PeerResolver {
  return new PeerResolver({
    libp2p: node.libp2p,
    dht: { enabled: false, waitForDhtPeer: async () => {}, peerCount: 0 },
    log: silentLogger(),
    bootstrapCount: 0,
    racing: { add: () => {}, delete: () => {} },
    backendNames: () => ['tor'],
    onLookup: e => { lookups.push(e) },
    ...over
  })
}

describe('PeerResolver.resolve', () => {
  it('parses a peer id without a lookup', async () => {
    const peer = await otherPeer()
    const t = await resolver().resolve(peer.toString())
    expect(t.peerId.equals(peer)).toBe(true)
    expect(t.multiaddrs).toEqual([])
  })

  it('refuses a name whose peer-id prefix is too short (InvalidTargetError)', async () => {
    await expect(resolver().resolve('web.12D3KooWAbc')).rejects.toMatchObject({ name: 'InvalidTargetError' })
  })

  it('cannot resolve a name with the DHT off (PeerNotFoundError)', async () => {
    const peer = await otherPeer()
    await expect(resolver().resolve(`web.${peer.toString().slice(0, 24)}`)).rejects.toMatchObject({ name: 'PeerNotFoundError', message: expect.stringContaining('the DHT is off') })
  })
})

describe('PeerResolver.lookup', () => {
  it('with no bootstrap node and no DHT peer, fails at once with "no DHT configured" and announces no lookup', async () => {
    const peer = await otherPeer()
    const lookups: LookupProgress[] = []
    let waited = false
    const r = resolver({ dht: { enabled: true, waitForDhtPeer: async () => { waited = true }, peerCount: 0 } }, lookups)
    const started = Date.now()
    await expect(r.lookup(peer, AbortSignal.timeout(5000))).rejects.toMatchObject({ name: 'PeerNotFoundError', noBootstrap: true, message: expect.stringContaining('no DHT configured') })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(waited).toBe(false)
    expect(lookups).toEqual([])
  })
})

describe('PeerResolver.prepare', () => {
  it('refuses this node\'s own peer id', async () => {
    await expect(resolver().prepare(node.peerId.toString())).rejects.toMatchObject({ name: 'InvalidTargetError' })
  })

  it('a peer with no known address and no DHT is not found', async () => {
    const peer = await otherPeer()
    await expect(resolver().prepare(peer.toString())).rejects.toMatchObject({ name: 'PeerNotFoundError' })
  })

  it('a peer with no known address and no bootstrap node says to use the connect string', async () => {
    const peer = await otherPeer()
    const lookups: LookupProgress[] = []
    await expect(resolver({ dht: { enabled: true, waitForDhtPeer: async () => {}, peerCount: 0 } }, lookups).prepare(peer.toString()))
      .rejects.toMatchObject({ name: 'PeerNotFoundError', message: expect.stringContaining('no bootstrap node') })
    expect(lookups).toEqual([])
  })

  it('takes remembered addresses from the address book and stores them in the peer store', async () => {
    const peer = await otherPeer()
    const book = new AddressBook(join(dir, 'peers.json'))
    const addr = multiaddr('/ip4/127.0.0.1/tcp/9')
    await book.put(peer.toString(), [addr])
    const { addrs } = await resolver({ addressBook: book }).prepare(peer.toString())
    expect(addrs.map(a => a.toString())).toEqual([addr.toString()])
    expect((await knownAddresses(node.libp2p, peer)).map(a => a.toString())).toContain(addr.toString())
  })

  it('an anonymous-only node drops the addresses its backends do not carry, and refuses a target left with none', async () => {
    const peer = await otherPeer()
    const onion = multiaddr(`/onion3/${'a'.repeat(56)}:4001`)
    const clear = multiaddr('/ip4/192.0.2.7/tcp/4001')
    const carries = (ma: Multiaddr): boolean => ma.toString().startsWith('/onion3/')
    const r = resolver({ carries })
    const { addrs } = await r.prepare({ peerId: peer, multiaddrs: [onion, clear] })
    expect(addrs.map(a => a.toString())).toEqual([onion.toString()])
    const other = await otherPeer()
    await expect(r.prepare({ peerId: other, multiaddrs: [clear] })).rejects.toMatchObject({ name: 'InvalidTargetError', message: 'the target has no address that tor carries' })
  })
})

describe('knownAddresses', () => {
  it('is empty for a peer the peer store has never seen', async () => {
    expect(await knownAddresses(node.libp2p, await otherPeer())).toEqual([])
  })
})

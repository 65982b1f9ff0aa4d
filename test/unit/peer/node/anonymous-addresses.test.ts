/**
 * Anonymous-only nodes (only Tor, ATOR or I2P) drop every address their
 * backends do not carry before it is stored or dialled: from a connect
 * string, from the peer store (what identify and DHT answers write to), and
 * from peers.json. Real libp2p nodes; the Tor backend points at a SOCKS port
 * that nothing listens on, so a dial of the onion fails at once and nothing
 * leaves this machine. No `/dnsaddr` is ever handed to a dial here: on code
 * without the filter that would query the system resolver (test/backends/tor/anonymous-addresses.test.ts
 * covers that case under strace, with the resolver pointed at loopback).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { carriedBy, torBackend } from '../../../../src/backends/index.ts'
import { AddressBook, createBeam, encodeConnectString, newAccessSecret } from '../../../../src/peer/index.ts'
import type { BeamNode } from '../../../../src/peer/index.ts'

const ONION = `/onion3/${'a'.repeat(56)}:4001`
/** Clearnet addresses that no libp2p resolver touches (no /dnsaddr: see the header). */
const CLEARNET = ['/dns4/leak-test.invalid/tcp/4001', '/ip4/192.0.2.7/tcp/4001', '/ip6/2001:db8::7/udp/4001/quic-v1']

let dir = ''
let closedPort = 0
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beam-anon-'))
  // a port that was free a moment ago: the Tor backend's SOCKS dial is refused at once
  const s = net.createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  closedPort = (s.address() as net.AddressInfo).port
  await new Promise<void>(resolve => s.close(() => { resolve() }))
})
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

/** A Tor-only connector whose debug log lands in `lines`. */
async function torOnlyNode (lines: string[], addressBook?: string): Promise<BeamNode> {
  return await createBeam({
    backends: [torBackend({ socksPort: closedPort })],
    logger: pino({ level: 'debug' }, { write: (s: string) => { lines.push(s) } }),
    ...(addressBook != null ? { addressBook } : {})
  })
}

/** The addresses a node's dial race tried (its `dialing` debug lines). */
/** The addresses dialled, each once (a dial repeats its rounds until its timeout). */
function dialled (lines: string[]): string[] {
  return [...new Set(lines.map(l => JSON.parse(l) as { msg?: string, address?: string }).filter(l => l.msg === 'dialing' && l.address != null).map(l => l.address ?? ''))]
}

async function stored (node: BeamNode, peer: Parameters<BeamNode['libp2p']['peerStore']['get']>[0]): Promise<string[]> {
  const p = await node.libp2p.peerStore.get(peer).catch(() => undefined)
  return (p?.addresses ?? []).map(a => a.multiaddr.toString()).sort()
}

describe('a Tor-only node drops the addresses Tor does not carry', () => {
  it('from a connect string: only the onion is dialled, and only the onion is stored', async () => {
    const lines: string[] = []
    const node = await torOnlyNode(lines)
    try {
      const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const cs = encodeConnectString({ peerId, secret: newAccessSecret(), multiaddrs: [...CLEARNET, ONION].map(a => multiaddr(a)) })
      await expect(node.connect(cs, { dialTimeout: 5000 })).rejects.toMatchObject({ name: 'PeerUnreachableError' })
      expect(dialled(lines)).toEqual([ONION])
      expect(await stored(node, peerId)).toEqual([ONION])
      expect(lines.join('')).toMatch(/dropped 3 address\(es\) that tor does not carry/)
    } finally {
      await node.stop()
    }
  })

  it('a connect string with no onion at all is refused before anything is dialled', async () => {
    const lines: string[] = []
    const node = await torOnlyNode(lines)
    try {
      const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const cs = encodeConnectString({ peerId, multiaddrs: CLEARNET.map(a => multiaddr(a)) })
      await expect(node.connect(cs, { dialTimeout: 5000 })).rejects.toMatchObject({ name: 'InvalidTargetError' })
      expect(dialled(lines)).toEqual([])
    } finally {
      await node.stop()
    }
  })

  it('from the peer store, where identify and DHT answers write: clearnet and /dnsaddr addresses are not kept', async () => {
    const node = await torOnlyNode([])
    try {
      const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
      const offered: Multiaddr[] = [...CLEARNET, '/dnsaddr/leak-test.invalid', ONION].map(a => multiaddr(a))
      await node.libp2p.peerStore.merge(peerId, { multiaddrs: offered })
      expect(await stored(node, peerId)).toEqual([ONION])
      await node.libp2p.peerStore.patch(peerId, { multiaddrs: offered })
      expect(await stored(node, peerId)).toEqual([ONION])
      await node.libp2p.peerStore.save(peerId, { multiaddrs: offered })
      expect(await stored(node, peerId)).toEqual([ONION])
    } finally {
      await node.stop()
    }
  })

  it('from peers.json: a remembered clearnet address is neither read nor dialled', async () => {
    const book = join(dir, 'peers.json')
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    await writeFile(book, JSON.stringify({ version: 1, peers: { [peerId.toString()]: { multiaddrs: [...CLEARNET, ONION], seen: Date.now() } } }))
    const lines: string[] = []
    const node = await torOnlyNode(lines, book)
    try {
      await expect(node.connect(peerId.toString(), { dialTimeout: 5000 })).rejects.toMatchObject({ name: 'PeerUnreachableError' })
      expect(dialled(lines)).toEqual([ONION])
      expect(await stored(node, peerId)).toEqual([ONION])
    } finally {
      await node.stop()
    }
  })

  it('peers.json as a Tor-only node keeps it: only carried addresses are written or read', async () => {
    const path = join(dir, 'peers.json')
    const keep = carriedBy([torBackend()])
    const book = new AddressBook(path, { keep })
    await book.put('peer-a', [...CLEARNET, ONION].map(a => multiaddr(a)))
    expect(JSON.parse(await readFile(path, 'utf8')).peers['peer-a'].multiaddrs).toEqual([ONION])
    await book.put('peer-b', CLEARNET.map(a => multiaddr(a)))
    expect(JSON.parse(await readFile(path, 'utf8')).peers['peer-b']).toBeUndefined()
    // an unfiltered book (direct) reads and writes everything
    const plain = new AddressBook(path)
    await plain.put('peer-c', [...CLEARNET, ONION].map(a => multiaddr(a)))
    expect((await plain.get('peer-c')).map(String)).toEqual([...CLEARNET, ONION])
    expect((await book.get('peer-c')).map(String)).toEqual([ONION])
  })
})
